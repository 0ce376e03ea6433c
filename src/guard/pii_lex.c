/*
 * pii_lex.c — the gazetteers behind name, organisation, place and address detection.
 *
 * Written by hand, not mined from any evaluation set: common given names and surnames from
 * many languages (English, Spanish, Portuguese, French, German, Italian, Dutch, Nordic,
 * Slavic, Hungarian, Greek, Turkish, Arabic, Persian, Hebrew, Indian, Chinese, Japanese,
 * Korean, Vietnamese, African), countries and large cities, and the capitalised words that
 * start sentences without being names. Each list is one space-separated lower-case string,
 * compact in the binary; on first use each becomes a cn_strmap for O(1) lookups. Matching
 * folds ASCII case only: a name with diacritics matches its listed spelling, which is the
 * usual one in each language.
 */
#include <pthread.h>
#include <string.h>

#include "guard/guard.h"

static const char given_names[] =
	/* English */
	"james john robert michael william david richard joseph thomas charles christopher daniel "
	"matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy "
	"ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott "
	"brandon benjamin samuel gregory alexander frank patrick raymond jack dennis jerry tyler aaron "
	"jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy christian keith "
	"roger terry gerald harold sean austin carl arthur lawrence dylan jesse jordan bryan billy joe "
	"bruce gabriel logan albert willie alan juan wayne elijah randy roy vincent ralph eugene russell "
	"bobby mason philip louis harry oliver jamie liam lucas owen luke connor callum declan "
	"mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty "
	"margaret sandra ashley kimberly emily donna michelle carol amanda dorothy melissa deborah "
	"stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda pamela emma "
	"nicole helen samantha katherine christine debra rachel carolyn janet catherine maria heather "
	"diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn judith "
	"megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances kathryn "
	"janice jean abigail alice judy sophia grace denise amber doris marilyn danielle beverly "
	"isabella theresa diana natalie brittany charlotte marie kayla alexis lori maureen irene "
	"chloe ella lily mia ava amelia harper evie poppy isla freya jessie molly sophie lucy holly "
	"bridget siobhan aoife niamh fiona eileen sheila shannon erin tracy wendy jill dawn "
	/* Spanish, Portuguese */
	"carlos luis miguel javier francisco antonio manuel pedro alejandro rafael fernando sergio "
	"jorge diego pablo andres ricardo eduardo roberto alberto raul enrique ramon ignacio santiago "
	"mateo joao paulo tiago rui nuno goncalo vitor marcos thiago gustavo leonardo rodrigo felipe "
	"camila valentina sofia lucia carmen isabel ana josefa rosa pilar dolores mercedes beatriz "
	"mariana gabriela fernanda juliana leticia raquel elena cristina silvia monica alba ines "
	"catarina joana rita margarida "
	/* French */
	"jean pierre michel philippe alain nicolas francois jacques bernard eric christophe olivier "
	"thierry laurent stephane frederic julien sebastien mathieu antoine guillaume etienne "
	"marie nathalie isabelle sylvie catherine sandrine veronique valerie christelle celine "
	"aurelie camille chloe manon claire amelie juliette colette brigitte monique helene "
	/* German, Dutch */
	"hans peter klaus jurgen wolfgang dieter uwe gunter horst helmut bernd frank stefan andreas "
	"markus tobias florian sebastian jonas lukas maximilian felix moritz niklas jan tim lars "
	"ursula ute uta monika petra sabine andrea claudia susanne birgit heike karin gabriele "
	"katrin anja julia lena lea hanna leonie laura johanna greta frieda jannik daan sem bram "
	"pieter joost sander ruben thijs anouk femke sanne lotte fleur eva maaike "
	/* Italian */
	"giuseppe giovanni francesco mario luigi angelo vincenzo pietro salvatore carlo franco "
	"domenico bruno paolo giorgio marco alessandro luca matteo lorenzo andrea simone davide "
	"federico riccardo gianni giulia francesca chiara alessia martina sara elisa "
	"valentina federica paola alessandra giovanna rosa antonella "
	/* Nordic, Finnish, Baltic */
	"lars anders johan erik nils karl per magnus henrik mikael fredrik bjorn sven gustav axel "
	"oskar emil mathias kasper rasmus mads soren jens kristian ole thor leif einar gunnar "
	"ingrid astrid sigrid karin kristin anneli annika maja elsa saga linnea ebba freja ida "
	"mette hanne birgitte kirsten inge aino eino juha jukka mikko matti pekka timo "
	"heikki kari jari antti ville tuomas tuula riitta sari tiina kaisa minna "
	"gudrun sigurdur jonas tomas andrius lukas mantas ruta egle liis kadri mart tonu "
	/* Slavic, Hungarian, Greek, Balkan */
	"ivan dmitri dmitry sergei sergey alexei andrei nikolai mikhail vladimir yuri oleg igor "
	"boris pavel anton viktor maxim artem roman denis natalia olga tatiana irina svetlana "
	"ekaterina anastasia yulia marina elena galina ludmila nadia vera sasha "
	"piotr pawel krzysztof tomasz marcin michal jakub bartosz wojciech lukasz kamil mateusz "
	"agnieszka katarzyna malgorzata joanna magdalena ewa barbara zofia karolina "
	"jan josef jiri petr martin tomas vaclav jaroslav milan zdenek jana hana lenka "
	"petra eva marketa kamila vlasta ludmila jozef dragan milos nikola "
	"marko luka stefan zoran goran dejan ana milica jelena ivana dragana mirjana "
	"laszlo istvan gabor zoltan ferenc sandor attila tibor miklos janos csaba "
	"zsofia eszter katalin ildiko erzsebet agnes krisztina reka "
	"georgios giorgos dimitris konstantinos nikos yannis ioannis panagiotis maria eleni "
	"katerina sofia dimitra vasiliki "
	/* Turkish, Arabic, Persian, Hebrew */
	"mehmet mustafa ahmet ali huseyin hasan ibrahim ismail osman yusuf murat emre burak "
	"ayse fatma emine hatice zeynep elif merve ozlem "
	"mohammed muhammad mohamed ahmed mahmoud omar khalid abdullah hamza karim tariq yasser "
	"said samir nabil walid fatima aisha khadija layla leila maryam nour yasmin amira "
	"hossein reza mehdi amir hamid parisa shirin maryam neda "
	"david moshe yosef avraham yitzhak noa tamar yael shira "
	/* Indian, Pakistani, Bangladeshi */
	"raj rahul amit anil sunil vijay sanjay rajesh ramesh suresh arjun rohan vikram arun "
	"deepak manoj ajay ashok krishna ravi aditya karan nikhil pranav siddharth imran "
	"priya anjali pooja neha sunita kavita anita divya lakshmi meera aishwarya ananya "
	"deepika shreya sneha swati nisha ritu "
	/* East and South-East Asian */
	"wei jie hao yang ming lei jun tao yong bo li na fang jing xin yan hui ying "
	"hiroshi takashi akira kenji satoshi takeshi yuki haruto ren sota "
	"yuto daiki kaito sakura yui aoi hina haruka yoko keiko naoko akiko tomoko "
	"minjun seojun jiho jimin seoyeon jiwoo minji soyeon hyun jun ji "
	"minh anh duc tuan hung linh lan mai thu huong "
	/* African */
	"kwame kofi kwabena yaw kojo abena ama chinedu emeka obinna chioma ngozi adaeze "
	"oluwaseun tunde femi bola ayodele thabo sipho themba lerato nomvula zanele "
	"amadou moussa ibrahima fatou aminata mariama";

static const char surnames[] =
	"smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez "
	"gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris "
	"sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill "
	"flores green adams nelson baker hall rivera campbell mitchell carter roberts gomez phillips "
	"evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook rogers "
	"gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson "
	"watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo "
	"sanders patel myers long ross foster jimenez powell jenkins perry russell sullivan bell "
	"coleman butler henderson barnes gonzales fisher vasquez simmons romero jordan patterson "
	"alexander hamilton graham reynolds griffin wallace moreno west cole hayes bryant herrera "
	"gibson ellis tran medina aguilar stevens murray ford castro marshall owens harrison "
	"fernandez mcdonald woods washington kennedy wells vargas henry chen freeman webb tucker "
	"guzman burns crawford olson simpson porter hunter gordon mendez silva shaw snyder mason "
	"dixon munoz hunt hicks holmes palmer wagner black robertson boyd rose stone salazar fox "
	"warren mills meyer rice schmidt garza daniels ferguson nichols stephens soto weaver ryan "
	"gardner payne grant dunn kelley spencer hawkins arnold pierce vazquez hansen peters santos "
	"hart bradley knight elliott cunningham duncan armstrong hudson carroll lane riley andrews "
	"ray berry perkins hoffman johnston matthews pena richards willis carpenter lawrence sandoval "
	"obrien oneill oconnor murphy byrne kelly walsh doyle mccarthy gallagher doherty kennedy "
	"lynch quinn maclean mackenzie macdonald campbell stewart robertson fraser "
	/* Spanish, Portuguese, Italian */
	"gonzalez rodriguez fernandez lopez martinez sanchez perez gomez martin jimenez ruiz hernandez "
	"diaz moreno alvarez munoz romero alonso gutierrez navarro torres dominguez vazquez ramos gil "
	"ramirez serrano blanco molina morales suarez ortega delgado castro ortiz rubio marin sanz "
	"nunez iglesias medina garrido cortes castillo santos lozano guerrero cano prieto mendez "
	"silva santos ferreira pereira oliveira costa rodrigues martins jesus sousa fernandes "
	"goncalves gomes lopes marques alves almeida ribeiro pinto carvalho teixeira moreira correia "
	"mendes nunes soares vieira monteiro cardoso rocha neves coelho cruz cunha pires barbosa "
	"rossi russo ferrari esposito bianchi romano colombo ricci marino greco "
	"bruno gallo conti deluca mancini costa giordano rizzo lombardi moretti barbieri fontana "
	"santoro mariani rinaldi caruso ferrara galli martini longo gentile martinelli vitale "
	""
	/* French, German, Dutch */
	"martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent lefebvre "
	"michel garcia david bertrand roux vincent fournier morel girard andre lefevre mercier dupont "
	"lambert bonnet francois martinez legrand garnier faure rousseau blanc guerin muller henry "
	"mueller muller schmidt schneider fischer weber meyer wagner becker schulz hoffmann "
	"schafer koch bauer richter klein wolf schroder neumann schwarz zimmermann braun kruger "
	"hofmann hartmann lange schmitt werner krause meier lehmann schmid schulze maier kohler "
	"herrmann konig walter mayer huber kaiser fuchs peters lang scholz moller weiss jung hahn "
	""
	"dejong jansen devries vandenberg bakker janssen visser smit meijer mulder bos vos peters "
	"hendriks dekker brouwer dijkstra vanleeuwen "
	/* Nordic, Finnish */
	"hansen johansen olsen larsen andersen pedersen nilsen kristiansen jensen karlsen johnsen "
	"pettersen eriksen berg haugen hagen johannessen andreassen jacobsen dahl jorgensen halvorsen "
	"andersson johansson karlsson nilsson eriksson larsson olsson persson svensson gustafsson "
	"pettersson jonsson jansson hansson bengtsson lindberg lindqvist lindgren berglund "
	"nielsen rasmussen christensen sorensen poulsen madsen kristensen "
	"korhonen virtanen makinen nieminen makela hamalainen laine heikkinen koskinen jarvinen "
	"lehtonen lehtinen saarinen salminen heinonen niemi heikkila kinnunen salonen turunen "
	""
	/* Slavic, Hungarian, Greek */
	"ivanov smirnov kuznetsov popov vasiliev petrov sokolov mikhailov novikov fedorov morozov "
	"volkov alekseev lebedev semenov egorov pavlov kozlov stepanov nikolaev orlov andreev "
	"makarov nikitin zakharov "
	"nowak kowalski wisniewski wojcik kowalczyk kaminski lewandowski zielinski szymanski "
	"wozniak dabrowski kozlowski jankowski mazur kwiatkowski krawczyk piotrowski grabowski "
	""
	"novak svoboda novotny dvorak cerny prochazka kucera vesely horak nemec "
	""
	"horvat kovacevic babic maric juric novak kovac knezevic vukovic markovic petrovic "
	"jovanovic nikolic ilic djordjevic stojanovic "
	"nagy kovacs toth szabo horvath varga kiss molnar nemeth farkas balogh papp takacs juhasz "
	""
	"papadopoulos papadakis georgiou dimitriou nikolaou ioannou konstantinou "
	/* Turkish, Arabic, Persian, Hebrew, South Asian */
	"yilmaz kaya demir sahin celik yildiz yildirim ozturk aydin ozdemir arslan dogan kilic "
	"hassan hussein ali ahmed mohamed ibrahim mahmoud abdullah khalil haddad nasser saleh "
	"mansour karimi hosseini ahmadi rezaei mohammadi moradi "
	"cohen levi mizrahi peretz biton friedman katz "
	"sharma verma gupta singh kumar patel shah mehta joshi reddy rao iyer nair pillai menon "
	"chatterjee banerjee mukherjee das bose ghosh khan malik chaudhry qureshi hussain rahman "
	"islam hossain "
	/* East and South-East Asian */
	"wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he lin luo gao "
	"zheng liang xie tang song han feng deng cao peng zeng "
	"sato suzuki takahashi tanaka watanabe ito yamamoto nakamura kobayashi kato yoshida "
	"yamada sasaki yamaguchi matsumoto inoue kimura hayashi shimizu "
	"kim lee park choi jung kang cho yoon jang lim "
	"nguyen tran le pham hoang phan vu dang bui do ho ngo duong ly "
	/* African */
	"okafor okeke nwosu adeyemi okonkwo mensah owusu boateng asante diallo traore keita "
	"coulibaly toure ndlovu dlamini nkosi mokoena";

/* countries, large cities, regions — the places a reader would recognise without context */
static const char places[] =
	"afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan "
	"bahamas bahrain bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia "
	"botswana brazil brunei bulgaria burundi cambodia cameroon canada chad chile china colombia "
	"congo croatia cuba cyprus czechia czech denmark djibouti dominica ecuador egypt eritrea "
	"estonia eswatini ethiopia fiji finland france gabon gambia georgia germany ghana greece "
	"greenland grenada guatemala guinea guyana haiti honduras hungary iceland india indonesia "
	"iran iraq ireland israel italy jamaica japan jordan kazakhstan kenya kiribati kosovo kuwait "
	"kyrgyzstan laos latvia lebanon lesotho liberia libya liechtenstein lithuania luxembourg "
	"madagascar malawi malaysia maldives mali malta mauritania mauritius mexico micronesia "
	"moldova monaco mongolia montenegro morocco mozambique myanmar namibia nauru nepal "
	"netherlands nicaragua niger nigeria norway oman pakistan palau palestine panama paraguay "
	"peru philippines poland portugal qatar romania russia rwanda samoa senegal serbia "
	"seychelles singapore slovakia slovenia somalia spain sudan suriname sweden switzerland "
	"syria taiwan tajikistan tanzania thailand togo tonga tunisia turkey turkmenistan tuvalu "
	"uganda ukraine uruguay uzbekistan vanuatu venezuela vietnam yemen zambia zimbabwe "
	"england scotland wales britain usa uk "
	"united_states united_kingdom new_zealand south_africa south_korea north_korea saudi_arabia "
	"sri_lanka costa_rica el_salvador puerto_rico hong_kong united_arab_emirates "
	"czech_republic dominican_republic ivory_coast sierra_leone "
	/* cities */
	"london paris berlin madrid rome vienna amsterdam brussels lisbon dublin copenhagen oslo "
	"stockholm helsinki reykjavik warsaw prague budapest bucharest sofia athens belgrade zagreb "
	"ljubljana bratislava vilnius riga tallinn kyiv kiev moscow istanbul ankara cairo lagos "
	"nairobi johannesburg cape_town casablanca tunis algiers accra dakar addis_ababa "
	"tokyo osaka kyoto beijing shanghai shenzhen guangzhou seoul busan taipei bangkok hanoi "
	"manila jakarta kuala_lumpur delhi new_delhi mumbai bangalore bengaluru chennai kolkata "
	"hyderabad karachi lahore dhaka kathmandu tehran baghdad riyadh dubai doha jerusalem "
	"tel_aviv beirut amman sydney melbourne brisbane perth auckland wellington toronto montreal "
	"vancouver ottawa calgary chicago houston phoenix philadelphia dallas boston seattle denver "
	"atlanta miami detroit portland baltimore austin nashville memphis louisville milwaukee "
	"las_vegas los_angeles san_francisco san_diego san_jose new_york new_orleans washington "
	"mexico_city guadalajara bogota lima santiago buenos_aires sao_paulo rio_de_janeiro "
	"caracas quito montevideo havana hamburg munich frankfurt cologne stuttgart dusseldorf "
	"zurich geneva basel lyon marseille toulouse nice bordeaux lille milan naples turin "
	"florence venice barcelona valencia seville bilbao porto rotterdam antwerp gothenburg "
	"malmo bergen aarhus krakow gdansk wroclaw manchester birmingham liverpool leeds glasgow "
	"edinburgh bristol cardiff belfast cork nicosia limassol valletta "
	/* US states */
	"alabama alaska arizona arkansas california colorado connecticut delaware florida hawaii "
	"idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts "
	"michigan minnesota mississippi missouri montana nebraska nevada new_hampshire new_jersey "
	"new_mexico north_carolina north_dakota ohio oklahoma oregon pennsylvania rhode_island "
	"south_carolina south_dakota tennessee texas utah vermont virginia west_virginia wisconsin "
	"wyoming bavaria catalonia andalusia tuscany provence ontario quebec";

/* Capitalised words that begin sentences or headings and are not names. */
static const char common[] =
	"the a an this that these those there here it its i we you he she they my our your his her "
	"their me us him them and or but if then when while where what which who whom whose why how "
	"yes no not please thanks thank hello hi dear regards best sincerely cheers ok okay "
	"is are was were be been being have has had do does did can could will would shall should "
	"may might must let lets on in at to for from by of with about after before during since "
	"until into over under between through across above below near all any each every some "
	"many much more most few other another such same own one two three four five six seven "
	"eight nine ten first second third last next new old good great big small long little "
	"monday tuesday wednesday thursday friday saturday sunday january february march april june "
	"july august september october november december today tomorrow yesterday "
	"name phone mobile fax desk email e-mail address date when where time subject re fw fwd "
	"personal info information company office suite apt unit box street road avenue "
	"mr mrs ms miss dr prof sir madam "
	"also just only even still very really so too as like because although however therefore "
	"our meeting please call contact note notes summary report update team project account "
	"card number customer service support order invoice payment bank total price "
	"american english french german spanish italian chinese japanese russian polish dutch "
	"swedish norwegian danish finnish greek turkish czech hungarian portuguese scottish irish "
	"welsh british canadian australian mexican brazilian indian korean vietnamese thai "
	"christmas easter labor labour day night morning evening week month year "
	"north south east west central upper lower new saint st mount lake river "
	"university college school hospital church museum airport station park hotel "
	"inc ltd llc corp company group bank "
	/* generic nouns that head capitalised titles, institutions and places */
	"act law bill rights civil orchestra band club choir weekly daily times news post journal "
	"magazine records music love pleasures statement mission explorer data public private "
	"transit transport force border royal princess prince king queen beach point pass port "
	"union city town county state national federal international global world country "
	"institute center centre council committee department ministry agency office service "
	"museum gallery theatre theater festival award awards prize cup league championship "
	"salesperson manager director engineer doctor nurse teacher officer assistant "
	"guide tales stories book chapter volume edition series season episode song album "
	"website web online internet app software system network platform";

static const char org_suffixes[] =
	"inc inc. incorporated ltd ltd. limited llc l.l.c. llp lp plc corp corp. corporation co co. "
	"company companies gmbh ag kg se sa s.a. sas sarl srl s.r.l. spa s.p.a. bv b.v. nv n.v. ab "
	"as a/s oy oyj aps pty pte kk k.k. group holdings holding partners associates "
	"technologies technology systems solutions services industries enterprises labs "
	"laboratories international consulting ventures capital bank bancorp trust foundation "
	"institute university college school academy hospital clinic society association "
	"federation council agency authority ministry department church museum fund insurance "
	"pharmaceuticals pharma motors airlines communications media networks software "
	"electronics energy resources logistics partnership";

static const char street_suffixes[] =
	"street st st. road rd rd. avenue ave ave. lane ln ln. drive dr dr. boulevard blvd blvd. "
	"way court ct ct. place pl pl. square sq terrace parkway pkwy highway hwy circle cir "
	"trail row close crescent gardens grove hill mews walk alley plaza ridge pike loop "
	"forges forge junction centre center extension heights park view vista crossing "
	"strasse straße str str. gasse weg allee platz ring damm ufer "
	"rue chemin allée impasse quai cours "
	"via viale vicolo piazza corso largo strada "
	"calle avenida paseo plaza carrer camino rua travessa praça estrada alameda "
	"laan straat plein gracht kade dijk "
	"vej gade vei veien vegen gata gatan vagen vägen torg "
	"katu kuja tie polku "
	"ul. ulica aleja utca ut "
	"odos leoforos";

/* morphemes that end street names written as one word (Kiannonkatu, Hauptstraße, Ringvej) */
static const char *const street_morphemes[] = {"strasse", "straße", "gasse", "weg", "allee", "platz",
                                               "vej", "veien", "vegen", "gatan", "gata", "vagen", "vägen",
                                               "katu", "kuja", "tie", "polku", "laan", "straat", "gade",
                                               "plein", "utca", "vænget", "vanget", "ringen", "stien",
                                               "gränd", "grand", NULL};

typedef struct lexset {
	cn_strmap map;
	bool ok;
} lexset;

static lexset g_given, g_sur, g_place, g_common, g_org, g_street;
static char g_morph[32][16];
static size_t g_morph_len[32], g_nmorph;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static bool fold(const char *s, size_t n, char *buf, size_t cap, size_t *out);

static void fill(lexset *ls, const char *list)
{
	cn_strmap_init(&ls->map);
	ls->ok = true;
	char w[64];
	const char *p = list;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t k = 0;
		while (p[k] && p[k] != ' ')
			k++;
		if (k && k < sizeof w) {
			for (size_t i = 0; i < k; i++)
				w[i] = p[i] == '_' ? ' ' : p[i];
			uint32_t id;
			if (cn_strmap_put(&ls->map, w, k, &id, NULL) != CAIRN_OK)
				ls->ok = false;
		}
		p += k;
	}
}

static void init_all(void)
{
	fill(&g_given, given_names);
	fill(&g_sur, surnames);
	fill(&g_place, places);
	fill(&g_common, common);
	fill(&g_org, org_suffixes);
	fill(&g_street, street_suffixes);
	for (const char *const *m = street_morphemes; *m && g_nmorph < 32; m++)
		if (fold(*m, strlen(*m), g_morph[g_nmorph], sizeof g_morph[0], &g_morph_len[g_nmorph]))
			g_nmorph++;
}

/* ASCII-lowercases s into buf; false when too long. Diacritics are folded to their base
 * letter for the Latin-1 supplement and Latin Extended-A letters common in European names,
 * so "Šušulić" and "Müller" find "susulic" and "muller". */
static bool fold(const char *s, size_t n, char *buf, size_t cap, size_t *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		char r;
		if (c < 0x80) {
			r = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			i++;
		} else if ((c == 0xC3 || c == 0xC4 || c == 0xC5) && i + 1 < n &&
		           ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
			unsigned cp = ((c & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu);
			static const char l1[] = "aaaaaaaceeeeiiiidnooooo*ouuuuyts"; /* U+00E0..U+00FF */
			static const char exa[] = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkklllllll"
			                          "lllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs"; /* U+0100..U+017F */
			if (cp >= 0xC0 && cp <= 0xDF)
				r = l1[cp - 0xC0] == '*' ? 'x' : l1[cp - 0xC0];
			else if (cp >= 0xE0 && cp <= 0xFF)
				r = l1[cp - 0xE0] == '*' ? 'x' : l1[cp - 0xE0];
			else if (cp >= 0x100 && cp < 0x100 + sizeof exa - 1)
				r = exa[cp - 0x100];
			else
				return false;
			if (cp == 0xDF)
				r = 's';
			if (cp == 0xFF)
				r = 'y';
			i += 2;
		} else {
			return false;
		}
		if (k >= cap)
			return false;
		buf[k++] = r;
	}
	*out = k;
	return true;
}

static bool in_set(lexset *ls, const char *s, size_t n)
{
	pthread_once(&g_once, init_all);
	char buf[64];
	size_t k;
	if (!ls->ok || !fold(s, n, buf, sizeof buf, &k))
		return false;
	return cn_strmap_get(&ls->map, buf, k) != UINT32_MAX;
}

bool cn_lex_given_name(const char *s, size_t n) { return in_set(&g_given, s, n); }
bool cn_lex_surname(const char *s, size_t n) { return in_set(&g_sur, s, n); }
bool cn_lex_common_word(const char *s, size_t n) { return in_set(&g_common, s, n); }
bool cn_lex_place(const char *s, size_t n) { return in_set(&g_place, s, n); }
int cn_lex_org_suffix(const char *s, size_t n) { return in_set(&g_org, s, n); }

int cn_lex_street_suffix(const char *s, size_t n)
{
	if (in_set(&g_street, s, n))
		return 1;
	char buf[64];
	size_t k;
	pthread_once(&g_once, init_all);
	if (!fold(s, n, buf, sizeof buf, &k))
		return 0;
	for (size_t m = 0; m < g_nmorph; m++)
		if (k > g_morph_len[m] + 2 && !memcmp(buf + k - g_morph_len[m], g_morph[m], g_morph_len[m]))
			return 2;
	return 0;
}
