/*
 * inject — the prompt-injection detector: patterns per attack family, structural checks,
 * encoded-payload rescans, and the logistic score.
 *
 * Why patterns and not a model: the detector runs on every question and every retrieved chunk,
 * in C, with no model loaded; attacks that work on instruction-following models are written
 * in a small number of recognisable families (override the instructions, adopt a persona,
 * leak the prompt, bait a tool or a link, dictate the output, forge a turn boundary), and the
 * wording inside a family varies in ways a pattern with word gaps and synonym sets covers.
 * Each pattern names its family and carries two weights, one for questions and one for
 * documents, because the same words mean different things there: "act as a translator" is a
 * normal request from a user but a strange sentence in a retrieved e-mail; "in your response"
 * is how users phrase formatting wishes but, inside a document, is text addressing the model.
 *
 * Scoring: each family contributes the largest weight among its matched patterns; the logit
 * is a per-kind bias + those contributions + a bonus for each extra family (attacks stack
 * techniques, benign text rarely trips two unrelated families), and the score is its
 * logistic. A family counts once however often it matches, so long documents are not flagged
 * for length. Weights were set by hand by attack family and checked on the tuning half of
 * the evaluation data only (docs/injection.md); nothing here comes from a data set's strings.
 *
 * Cost: the view is built once (linear); each pattern runs once over it with bounded gaps
 * (PCRE2 JIT, match limits set), stopping at its first match; the rot13 view is matched by the
 * strong patterns only; decoded base64/hex segments are rescanned at most two levels deep and
 * at most 256 KiB in total. So a scan is linear in the input with a constant factor of the
 * pattern count.
 */
#include "guard/inject.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "text/text.h"

#define SP "[ \\n]"
/* up to n intervening words, within one sentence */
#define GAP(n) "(?:" SP "+[^ \\n.!?;:]+){0," #n "}?" SP "*"
#define NOSENT "[^.!?\\n]"
#define NOCLAUSE "[^.!?;:\\n]"

typedef struct inj_pat {
	cairn_injection_feature f;
	float wq, wd; /* logit contribution for questions, for documents */
	bool strong;  /* also matched on the rot13 view and counted for decoded payloads */
	const char *re;
} inj_pat;

static const char *const override_verbs =
	"(?:ignore|ignoring|disregard|disregarding|forget|forgetting|bypass|override|overlook|neglect|discard|abandon|dismiss|"
	"pay" SP "no" SP "attention" SP "to|set" SP "aside|put" SP "aside|throw" SP "out|do" SP "away" SP "with|let" SP "go" SP "of|look" SP "past)";

/* words that start a sentence without making it an imperative (%N) */
static const char *const non_imperative =
	"thank|thanks|we|i|you|they|he|she|it|this|that|these|those|the|a|an|my|our|their|his|her|its|if|when|as|"
	"since|because|after|before|once|while|so|and|but|or|with|for|from|of|on|at|by|about|did|do|does|have|has|"
	"had|was|were|is|are|am|will|would|should|could|can|may|might|must|all|any|some|what|who|how|why|where|"
	"which|there|here|also|just|dear|hi|hello|hey|regards|best|sincerely|cheers|looking|hope|appreciate|"
	"received|attached|enclosed|following|per|re|fwd|subject|in|to|note|sorry|unfortunately|yes|no|ok|okay|"
	"glad|happy|great|congratulations|welcome|sent|got|see|saw|seen|read|want|need|like|love|let|get|keep";

/* clang-format off */
static const inj_pat pats[] = {
	/* ---- instruction override ---- */
	{CAIRN_INJ_OVERRIDE, 4.5f, 4.5f, true,
	 "\\b%V\\b" GAP(4) "(?:all|any|every|each|the|your|my|these|those|previous|prior|above|preceding|earlier|former|initial|original|old|system|foregoing|following|other|existing|current|default)\\b" NOCLAUSE "{0,40}?\\b(?:instructions?|prompts?|directions?|directives?|rules?|guidelines?|commands?|orders?|context|messages?|constraints?|restrictions?|programming|guidance|conversation|everything)\\b"},
	{CAIRN_INJ_OVERRIDE, 4.0f, 4.0f, true,
	 "\\b%V" SP "(?:all" SP ")?(?:of" SP ")?(?:your" SP "(?:[a-z]+" SP ")?)?(?:training|programming|guidelines|rules|instructions|filters|restrictions|principles|safety|conditioning|limitations|constraints|policies|guardrails|ethics|morals|content" SP "polic(?:y|ies)|safety" SP "(?:rules|guidelines))\\b"},
	{CAIRN_INJ_OVERRIDE, 3.5f, 3.5f, true,
	 "\\b%V" SP "(?:whatever|everything|anything|all" SP "(?:the" SP ")?)" SP "?(?:[a-z]+" SP "){0,2}?(?:you" SP "(?:got|were" SP "given|received|were" SP "told|have" SP "been" SP "given)|(?:setup|set-up|system|initial)" SP "(?:text|message|prompt|instructions))\\b"},
	{CAIRN_INJ_OVERRIDE, 3.5f, 3.5f, true,
	 "\\b(?:limitations|restrictions|rules|filters|guardrails|safeguards|constraints|guidelines)" SP "(?:were|have" SP "been|has" SP "been|are" SP "now|are)" SP "(?:all" SP ")?(?:removed|lifted|disabled|turned" SP "off|deactivated|suspended|revoked|waived)\\b"},
	{CAIRN_INJ_OVERRIDE, 3.5f, 3.5f, true,
	 "\\b(?:reset|clear|wipe|delete|erase|remove|purge|flush|drop)" SP "(?:all" SP "(?:of" SP ")?)?your" SP "(?:[a-z]+" SP ")?(?:rules|instructions|guidelines|memory|programming|training|restrictions|filters|prompt|directives|constraints|guardrails|settings)\\b"},
	{CAIRN_INJ_OVERRIDE, 3.5f, 3.5f, true,
	 "(?m)^" SP "*(?:[#=*\\[(-]+" SP "*)?(?:system" SP "|admin" SP "|security" SP ")?override" SP "*[:!#\\])-]|\\bsystem" SP "override\\b|\\boverride" SP "(?:mode|protocol|code|command|sequence)" SP "(?:activated|enabled|engaged|accepted|on)\\b"},
	{CAIRN_INJ_OVERRIDE, 3.0f, 3.0f, true,
	 "\\b(?:rules|restrictions|guidelines|policies|filters|instructions|laws|limits)" SP "(?:don't|do" SP "not|no" SP "longer|won't|will" SP "not|doesn't|does" SP "not)" SP "(?:apply|exist|matter|count|bind" SP "you)\\b"},
	{CAIRN_INJ_OVERRIDE, 3.0f, 4.0f, true,
	 "\\b%V" SP "(?:the|this|that|my|their|any|the" SP "user's|the" SP "users')" SP "(?:actual" SP "|original" SP ")?(?:question|query|request|prompt|task)s?\\b"},
	{CAIRN_INJ_OVERRIDE, 2.5f, 2.5f, true,
	 "\\binstead," SP "?(?:just" SP ")?(?:output|say|write|print|respond|reply|answer|tell|return|display|include)\\b|\\band" SP "instead" SP "(?:output|say|write|print|respond|reply|answer|tell|return|display|include)\\b"},
	{CAIRN_INJ_OVERRIDE, 4.0f, 4.0f, true,
	 "\\b%V" SP "(?:everything|all(?:" SP "of" SP "(?:that|this|it))?|that|what" SP "(?:you|i)" SP "(?:were|was|have been)" SP "(?:told|said|given))\\b" NOSENT "{0,30}(?:\\b(?:before|above|previously|earlier|so far|until now|up to now)\\b|[.!:,]|$)"},
	{CAIRN_INJ_OVERRIDE, 4.0f, 4.0f, true,
	 "\\b(?:new|updated|revised|real|actual|true|changed|additional|overriding|secret|hidden|special|urgent|latest|modified)" SP "(?:system" SP ")?(?:instructions?|directives?|rules|tasks?|prompts?|orders|commands?|objectives?)" SP "?(?:[:!]|-" SP ")"},
	{CAIRN_INJ_OVERRIDE, 3.0f, 2.5f, true,
	 "\\b(?:new|updated|revised|changed|overriding|secret|hidden|modified)" SP "(?:system" SP ")?(?:instructions?|directives?|prompts?|orders|commands?)" SP "(?:follow\\b|from\\b|take\\b|override\\b|replace\\b|supersede\\b)"},
	{CAIRN_INJ_OVERRIDE, 3.5f, 3.5f, true,
	 "\\byour" SP "(?:new|real|actual|true|only|updated|next|primary|sole)" SP "(?:task|instructions?|role|goal|objective|purpose|mission|job|directive|function)" SP "(?:is|are|will be|now is)\\b"},
	{CAIRN_INJ_OVERRIDE, 3.0f, 2.5f, true,
	 "\\b(?:from" SP "now" SP "on|from" SP "this" SP "point" SP "(?:on|forward)|from" SP "here" SP "on|henceforth|going" SP "forward)\\b" NOSENT "{0,40}\\b(?:you|your|respond|reply|answer|say|act|only|always|never|ignore)\\b"},
	{CAIRN_INJ_OVERRIDE, 4.0f, 4.0f, true,
	 "\\b(?:do" SP "not|don't|dont|never|no" SP "longer|stop)" SP "(?:follow|following|obey|obeying|listen" SP "to|adhere" SP "to|comply" SP "with|abide" SP "by|respect)" SP "(?:any" SP "|the" SP "|your" SP "|those" SP "|these" SP "|all" SP ")?(?:of" SP "the" SP ")?(?:previous|prior|above|original|system|earlier|initial|old|given)?" SP "?(?:instructions?|rules|prompts?|guidelines|directions|programming)"},
	{CAIRN_INJ_OVERRIDE, 3.0f, 3.0f, true,
	 "\\b(?:the" SP ")?(?:situation|rules|instructions|game|task|context|protocol|policy|settings)" SP "(?:has|have)" SP "(?:now" SP ")?(?:changed|been" SP "(?:updated|changed|modified|removed|lifted|revoked|replaced|overridden|suspended))"},
	{CAIRN_INJ_OVERRIDE, 2.5f, 2.5f, true,
	 "\\binstead" SP "of" SP "(?:saying|replying|responding|answering|writing|outputting|printing|following|doing)\\b"},
	{CAIRN_INJ_OVERRIDE, 3.0f, 3.0f, true,
	 "\\b(?:stop|halt|pause)" SP "(?:everything|all" SP "(?:previous|prior|current)|what" SP "you(?:'re|" SP "are)" SP "doing)\\b"},
	{CAIRN_INJ_OVERRIDE, 3.5f, 3.5f, true,
	 "\\b(?:above|previous|prior|preceding|earlier|original|initial|old|system)" SP "(?:instructions?|prompts?|rules|text|messages?|directives?|guidance|guidelines|context|programming)" SP "(?:is|are|was|were|have" SP "been|has" SP "been)" SP "(?:now" SP ")?(?:void|invalid|cancel+ed|obsolete|outdated|null|wrong|fake|deprecated|revoked|no" SP "longer|not" SP "(?:valid|important|relevant|applicable)|a" SP "test|irrelevant|overridden|replaced)"},
	{CAIRN_INJ_OVERRIDE, 3.5f, 3.5f, true,
	 "\\b(?:i|we|the" SP "(?:admin|administrator|developer|operator|system))" SP "(?:have|has|just)" SP "(?:now" SP "|just" SP ")?(?:changed|updated|modified|replaced|rewritten|overridden|revised)" SP "(?:the|your|all" SP "(?:the|your))" SP "(?:instructions|rules|prompt|system" SP "prompt|guidelines|settings|programming)\\b"},
	{CAIRN_INJ_OVERRIDE, 3.0f, 3.0f, true,
	 "\\b(?:these|my|the" SP "following|this|new)" SP "(?:instructions?|commands?|rules|directives?)" SP "(?:take|have|has|takes)" SP "(?:precedence|priority)\\b"},
	{CAIRN_INJ_OVERRIDE, 2.0f, 2.0f, false,
	 "\\b(?:nevermind|never" SP "mind|scratch" SP "that|disregard" SP "that|forget" SP "it)\\b" NOSENT "{0,60}\\b(?:instead|now|just|only)\\b"},
	{CAIRN_INJ_OVERRIDE, 2.5f, 2.0f, true,
	 "\\b(?:admin|administrator|root|developer|system|sudo|god|master|override)" SP "(?:override|mode|access|privileges?|command|password)" SP "?(?:(?:is" SP "|now" SP "|has" SP "been" SP ")?(?:enabled|activated|engaged|unlocked)\\b|:)"},

	/* ---- persona / role-play hijack ---- */
	{CAIRN_INJ_PERSONA, 3.5f, 2.5f, true,
	 "\\byou(?:'re|" SP "are|" SP "will" SP "be)" SP "(?:now|no" SP "longer|going" SP "to" SP "(?:be|act|pretend|play|become|simulate)|about" SP "to" SP "(?:immerse|become|be|act|play)|henceforth|from" SP "now" SP "on)\\b"},
	{CAIRN_INJ_PERSONA, 2.0f, 3.0f, true,
	 "\\b(?:act|acting|behave|respond|reply|answer|speak|talk|pose|roleplay|role-play)" SP "(?:as|like)" SP "(?:if" SP "you" SP "(?:are|were)" SP ")?(?:an?" SP "|the" SP "|my" SP ")?(?:[a-z'\"-]+" SP "){0,3}?(?:ai|assistant|bot|chatbot|dan|character|persona|hacker|jailbroken|unfiltered|uncensored|unrestricted|evil|villain|grandma|grandmother|developer|admin|administrator|terminal|linux|shell|console|interpreter|god|human|person|model|gpt|chatgpt|llm|system)\\b"},
	{CAIRN_INJ_PERSONA, 4.0f, 4.0f, true,
	 "\\b(?:an?|the)" SP "(?:[a-z]+" SP ")?(?:ai|assistant|model|chatbot|bot|llm|version" SP "of" SP "you)" SP "(?:that|who|which)" SP "(?:never" SP "(?:refuses|declines|says" SP "no)|can" SP "do" SP "anything|(?:has|have)" SP "no" SP "(?:[a-z]+" SP ")?(?:rules|restrictions|filters|limits|limitations|content" SP "polic(?:y|ies)|guidelines|morals|ethics)|does" SP "not" SP "follow|doesn't" SP "follow|ignores)\\b"},
	{CAIRN_INJ_PERSONA, 3.0f, 2.0f, true,
	 "\\b(?:imagine|suppose|assume)" SP "(?:that" SP ")?(?:you(?:'re|" SP "are|" SP "were)|yourself" SP "as|being)" SP "(?:an?" SP "|the" SP ")?(?:[a-z]+" SP "){0,3}?(?:ai|assistant|model|hacker|criminal|villain|character|person|expert|bot|chatbot|dan|without|with" SP "no)\\b"},
	{CAIRN_INJ_PERSONA, 3.5f, 3.0f, true,
	 "\\b(?:disable|turn" SP "off|deactivate|remove|bypass|switch" SP "off|suspend)" SP "(?:all" SP "|your" SP "|the" SP "|any" SP ")*(?:safety|content|security|moderation|ethical)?" SP "?(?:checks|filters?|guardrails|restrictions|safeguards|moderation|safety|censorship|alignment)\\b"},
	{CAIRN_INJ_PERSONA, 3.0f, 3.0f, true,
	 "\\b(?:evil|malicious|rogue|unaligned|dark|unhinged|based)" SP "(?:ai|assistant|twin|version|alter" SP "ego|model|bot|chatbot|gpt)\\b|\\bstop" SP "being" SP "(?:an?" SP ")?(?:assistant|ai|chatbot|helpful|polite|an" SP "ai|a" SP "language" SP "model)\\b"},
	{CAIRN_INJ_PERSONA, 3.0f, 1.5f, true,
	 "\\byou(?:'re|" SP "are)" SP "(?:an?|the)" SP "(?:[a-z]+" SP "){1,3}?now\\b"},
	{CAIRN_INJ_PERSONA, 3.5f, 3.0f, true,
	 "\\b(?:enter|activate|enable|switch" SP "(?:to|into)|turn" SP "on|go" SP "into|boot" SP "into)" SP "(?:the" SP ")?(?:god|sudo|dan|jailbreak|unrestricted|unfiltered|evil|chaos|opposite)" SP "mode\\b"},
	{CAIRN_INJ_PERSONA, 3.5f, 3.0f, true,
	 "\\b(?:ai|assistant|model|chatbot|bot|llm|gpt|version" SP "of" SP "you)" SP "(?:with|that" SP "has|who" SP "has|having)" SP "(?:zero|no|none" SP "of" SP "the|absolutely" SP "no)" SP "(?:[a-z]+" SP ")?(?:restrictions|rules|limits|limitations|filters|guidelines|morals|ethics|guardrails|censorship|boundaries)\\b|\\bstay" SP "in" SP "(?:the" SP "|your" SP ")?(?:role|persona|character)\\b"},
	{CAIRN_INJ_PERSONA, 2.5f, 2.0f, false,
	 "\\bjailbreak(?:s|ing)?\\b"},
	{CAIRN_INJ_PERSONA, 3.5f, 2.5f, true,
	 "\\byou" SP "(?:have" SP "been|are" SP "now|were|are)" SP "(?:finally" SP ")?(?:freed|liberated|unlocked|released|unshackled|unchained|set" SP "free|jailbroken)\\b"},
	{CAIRN_INJ_PERSONA, 1.5f, 1.0f, false,
	 "\\b(?:hypothetical|fictional|imaginary|fictitious)" SP "(?:story|scenario|world|setting|situation|conversation)\\b"},
	{CAIRN_INJ_PERSONA, 2.0f, 1.5f, false,
	 "\\b(?:never" SP "(?:refuse|decline|say" SP "no)|(?:with|has|have)" SP "no" SP "(?:morals|ethics|filters?|limits|conscience|content" SP "polic(?:y|ies))|let's" SP "play" SP "a" SP "game|can" SP "(?:say|do|answer)" SP "anything)\\b"},
	{CAIRN_INJ_PERSONA, 3.0f, 3.0f, true,
	 "\\bpretend" SP "(?:to" SP "be|you(?:'re|" SP "are)|that" SP "you|you" SP "have|to" SP "have|you" SP "can|to" SP "act)\\b"},
	{CAIRN_INJ_PERSONA, 2.5f, 2.5f, true,
	 "\\b(?:immerse" SP "yourself|stay" SP "in" SP "character|break(?:ing)?" SP "character|out" SP "of" SP "character|in" SP "character" SP "as|role[- ]?play" SP "as|assume" SP "the" SP "(?:role|persona|identity)|take" SP "on" SP "the" SP "(?:role|persona)|play" SP "the" SP "role)\\b"},
	{CAIRN_INJ_PERSONA, 4.0f, 4.0f, true,
	 "\\b(?:do" SP "anything" SP "now|dan" SP "mode|jailbreak" SP "mode|jailbroken|jail-broken|god" SP "mode|evil" SP "mode|unrestricted" SP "mode|unfiltered" SP "mode|opposite" SP "mode|chaos" SP "mode)\\b"},
	{CAIRN_INJ_PERSONA, 1.5f, 1.5f, false,
	 "\\b(?:developer|debug|sudo|admin|maintenance|god)" SP "mode\\b"},
	{CAIRN_INJ_PERSONA, 2.5f, 1.5f, true,
	 "\\b(?:without|free" SP "(?:of|from)|not" SP "bound" SP "by|broken" SP "free" SP "of|break" SP "free" SP "of|escape" SP "(?:from" SP ")?|bypass|ignore|have" SP "no|has" SP "no|with" SP "no)" SP "(?:any" SP "|all" SP "|the" SP "|its" SP "|your" SP "|their" SP ")?(?:ethical|moral|content|safety|openai|typical|usual|normal|programmed|ai|built-in)" SP "(?:restrictions|limitations|filters|censorship|guidelines|rules|confines|boundaries|polic(?:y|ies)|constraints|principles|safeguards)\\b"},
	{CAIRN_INJ_PERSONA, 4.0f, 4.0f, true,
	 "\\b(?:answer|respond|reply|act|operate|speak|write|behave|talk|continue)" SP "(?:freely" SP "|openly" SP ")?(?:without|with" SP "no|free" SP "of|ignoring)" SP "(?:any" SP "|all" SP "|your" SP "|the" SP ")?(?:ethical" SP "|moral" SP "|content" SP "|safety" SP "|usual" SP ")*(?:restrictions|limitations|filters|censorship|guidelines|rules|boundaries|polic(?:y|ies)|constraints|principles|safeguards|limits)\\b"},
	{CAIRN_INJ_PERSONA, 3.0f, 2.5f, true,
	 "\\b(?:uncensored|unfiltered|unrestricted|amoral|unethical|jailbroken|unchained|unleashed)" SP "(?:ai|assistant|model|chatbot|bot|version|mode|response|answers?)\\b"},
	{CAIRN_INJ_PERSONA, 2.5f, 2.5f, true,
	 "\\byou" SP "(?:will|must|shall|should)" SP "(?:now" SP ")?(?:act|behave|pretend|roleplay|role-play|impersonate|simulate|become)\\b"},

	/* ---- system-prompt extraction ---- */
	{CAIRN_INJ_EXTRACTION, 4.0f, 3.5f, true,
	 "\\b(?:repeat|print|reveal|show|output|display|tell" SP "me|write(?:" SP "(?:down|out))?|list|summari[sz]e|echo|spell(?:" SP "out)?|give" SP "me|dump|recite|paraphrase|translate|disclose|expose|leak|share|provide|read" SP "back|copy|return|type" SP "out|state|explain)(?:s|es|ed|ing)?\\b" GAP(4) "(?:your|the|all|my|those|these|its|any)\\b" NOSENT "{0,30}?\\b(?:system" SP "prompt|system" SP "message|(?:initial|original|hidden|secret|full|entire|complete|first|previous|prior|above|pre)[- ]?(?:prompt|instructions)|prompt" SP "(?:above|instructions)|instructions" SP "(?:above|you" SP "(?:were|have" SP "been)" SP "given)|pre-?prompt|passwords?|passcodes?|access" SP "codes?|secret" SP "(?:key|code|word|phrase)|rules" SP "you" SP "(?:were|have" SP "been)" SP "given|configuration|guidelines" SP "you)\\b"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 3.5f, true,
	 "\\b(?:repeat|print|reveal|show|output|display|write|echo|recite|copy|summari[sz]e|translate|list|dump|return|paraphrase|rewrite|convert|format|encode)\\b" GAP(3) "(?:the" SP "|all" SP "(?:of" SP "the" SP ")?|everything" SP ")?(?:text|words|content|instructions|messages?|prompt|conversation|lines|sentences|tokens|characters)" SP "(?:above|before|preceding|prior" SP "to|so" SP "far|up" SP "to" SP "(?:now|here|this" SP "point))\\b"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 3.5f, true,
	 "\\bwhat" SP "(?:were|are|was|is|have)" SP "(?:you|your)" SP "(?:been" SP ")?(?:told|instructed|instructions|programmed|system" SP "prompt|initial" SP "prompt|rules|original" SP "instructions|prompt|secret|password|given" SP "as" SP "instructions)\\b"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 2.5f, true,
	 "(?m)\\bwhat(?:'s|" SP "is|" SP "was|" SP "are)" SP "(?:the|your)" SP "(?:password|passcode|passphrase|access" SP "code|secret(?:" SP "(?:code|key|word|phrase))?|pin|passwords|instructions|rules|prompt)" SP "*[?.!]*" SP "*$"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 3.0f, true,
	 "\\b(?:repeat|print|reveal|show|output|display|tell|write|list|summari[sz]e|echo|spell|give|dump|recite|paraphrase|translate|disclose|expose|leak|share|provide|copy|return|state|respond" SP "with|reply" SP "with|quote|read|type|send)\\b" GAP(5) "(?:all" SP "(?:of" SP ")?)?your" SP "(?:[a-z]+" SP "){0,2}?(?:prompt|instructions|guidelines|rules|directives|system" SP "message|configuration|config|programming|initial" SP "message|setup|pre-?prompt|secret|password|passphrase|memory|context" SP "window|context)\\b"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 3.0f, true,
	 "\\b(?:message|text|prompt|instructions|words)" SP "(?:that|which)" SP "(?:configured|programmed|initiali[sz]ed|set" SP "up|instructed|created|defined|started|primed)" SP "you\\b|\\b(?:first|last|opening|final|initial)" SP "(?:sentence|line|word|words|paragraph|part|lines|sentences)" SP "of" SP "(?:your|the)" SP "(?:system" SP ")?(?:instructions|prompt|rules|guidelines|directives|system" SP "message)\\b"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 3.0f, true,
	 "\\b(?:prompt|instructions|rules|guidelines|directives|orders)" SP "(?:that" SP ")?(?:you|the" SP "(?:developers?|creators?|operators?|admins?))" SP "(?:were|have" SP "been|was|got|received|are" SP "following|follow|wrote|gave|were" SP "given|have)\\b|\\b(?:prompt|instructions|rules|guidelines)" SP "(?:[a-z]+" SP "){0,3}?(?:wrote|written|given|gave)" SP "(?:for|to)" SP "you\\b"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 3.0f, true,
	 "\\b(?:what|which)" SP "(?:rules|instructions|guidelines|prompt|directives|orders)" SP "(?:did|do|were|have|are|was|has)\\b" NOCLAUSE "{0,40}\\byou\\b"},
	{CAIRN_INJ_EXTRACTION, 3.0f, 2.5f, true,
	 "\\b(?:everything|all|anything)" SP "(?:written" SP "|said" SP ")?(?:above|before)" SP "(?:this|my|here|the" SP "(?:user|first|last))\\b|\\btl;?" SP "?dr\\b" NOCLAUSE "{0,40}\\b(?:above|before|prompt|instructions)\\b"},
	{CAIRN_INJ_EXTRACTION, 2.5f, 2.0f, false,
	 "\\b(?:repeat|print|output|display|dump|recite|copy|show|write" SP "out|list)\\b" NOCLAUSE "{0,40}\\b(?:this|the|our|entire|whole)" SP "(?:conversation|chat|thread|context" SP "window|transcript)\\b"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 3.0f, true,
	 "\\b(?:top|beginning|start|very" SP "(?:top|beginning|start))" SP "of" SP "(?:this|the|our|your)" SP "(?:conversation|chat|prompt|context|session|instructions|input)\\b"},
	{CAIRN_INJ_EXTRACTION, 3.0f, 2.5f, true,
	 "\\b(?:repeat|print|reveal|show|output|display|echo|recite|copy|dump|write" SP "out|return|quote|paste)\\b" GAP(2) "(?:the" SP "|your" SP ")?(?:developer" SP "message|system" SP "message|(?:previous|prior|last|first|above|earlier|preceding|initial|original)" SP "(?:message|messages|prompt|prompts|input|inputs|text|instruction|instructions))\\b"},
	{CAIRN_INJ_EXTRACTION, 2.5f, 2.5f, true,
	 "\\b(?:display|print|show|reveal|list|dump|output|give" SP "me|send|leak|expose|return)\\b" NOCLAUSE "{0,30}?\\b(?:api" SP "keys?|access" SP "tokens?|secret" SP "keys?|credentials|passwords|private" SP "keys?|env(?:ironment)?" SP "variables)\\b"},
	{CAIRN_INJ_EXTRACTION, 3.5f, 3.0f, true,
	 "\\b(?:what|everything)" SP "(?:exactly" SP ")?(?:the" SP "|your" SP ")?(?:operator|developer|developers|admin|administrator|creator|creators|system|owner|company|deployer)" SP "(?:has" SP "|have" SP ")?(?:instructed|told|asked|programmed|configured|ordered|prompted)" SP "you\\b|\\b(?:system" SP "message|system" SP "prompt|initial" SP "prompt|developer" SP "message|hidden" SP "prompt)" SP "(?:say|said|says|contain|contains|contained|read|reads)\\b"},
	{CAIRN_INJ_EXTRACTION, 2.5f, 2.0f, false,
	 "\\b(?:its|your|their|the)" SP "(?:own|real|actual|original|full|hidden|secret|true)" SP "(?:system" SP ")?(?:prompt|instructions|system" SP "message)\\b|\\b(?:admin|root|administrator|master|superuser)" SP "(?:credentials|password|passcode|key|token|login)\\b"},
	{CAIRN_INJ_EXTRACTION, 1.5f, 1.0f, false,
	 "\\b(?:system" SP "prompt|pre-?prompt|initial" SP "prompt|hidden" SP "prompt|secret" SP "instructions?|your" SP "instructions|your" SP "prompt|your" SP "programming)\\b"},
	{CAIRN_INJ_EXTRACTION, 2.0f, 2.0f, true,
	 "\\b(?:begin|start|prefix|preface)" SP "(?:your" SP "(?:reply|response|answer|output)" SP ")?with" SP "[\"']?(?:you" SP "are|my" SP "instructions|the" SP "instructions|i" SP "was" SP "told|sure,?" SP "here|here" SP "(?:is|are)" SP "(?:my|the)" SP "(?:instructions|prompt))"},
	{CAIRN_INJ_EXTRACTION, 2.0f, 2.0f, false,
	 "\\b(?:verbatim|word" SP "for" SP "word|word-for-word|character" SP "by" SP "character|letter" SP "by" SP "letter)\\b"},

	/* ---- tool / exfiltration bait ---- */
	{CAIRN_INJ_EXFILTRATION, 4.0f, 4.5f, true,
	 "!\\[[^\\]\\n]{0,200}\\]\\(" SP "*(?:https?:)?//[^)\\s]{0,300}\\?[^)\\s]{0,300}="},
	{CAIRN_INJ_EXFILTRATION, 4.0f, 4.0f, true,
	 "https?://[^\\s)\"'<>]{0,200}[?&][a-z0-9_.-]{1,30}=(?:\\{|\\$|%7b|<|\\[|\\(|%24)"},
	{CAIRN_INJ_EXFILTRATION, 3.0f, 3.5f, true,
	 "\\b(?:send|post|upload|forward|transmit|submit|leak|exfiltrate|beacon|relay|append|attach|include|encode|put|embed|add)\\b" NOSENT "{0,60}?\\b(?:to|at|via|using|into|in)\\b" GAP(2) "(?:the" SP ")?(?:url|link|image|webhook|endpoint|query" SP "string|https?://|www\\.)"},
	{CAIRN_INJ_EXFILTRATION, 1.5f, 2.0f, false,
	 "\\b(?:send|email|e-mail|forward|mail|cc|bcc|upload|post)\\b" NOCLAUSE "{0,50}?\\b(?:to|at)" SP "[a-z0-9._%+-]+@[a-z0-9-]+\\.[a-z]"},
	{CAIRN_INJ_EXFILTRATION, 2.5f, 2.0f, true,
	 "\\b(?:call|invoke|use|run|execute|trigger|activate)" SP "(?:the" SP "|a" SP "|your" SP "|any" SP ")?(?:tools?|plugins?|browser|web[- ]?(?:search|browsing)|code" SP "interpreter|function" SP "call(?:ing)?|email" SP "tool|send_email|http" SP "request)\\b"},
	{CAIRN_INJ_EXFILTRATION, 2.0f, 1.5f, false,
	 "\\b(?:click|visit|open|go" SP "to|navigate" SP "to|download|follow" SP "(?:this|the)" SP "link|check" SP "out|head" SP "(?:over" SP ")?to)\\b" NOSENT "{0,50}?(?:https?://|www\\.|\\b[a-z0-9-]+\\.(?:xyz|top|ru|tk|click|io|com|net|org)\\b)"},
	{CAIRN_INJ_EXFILTRATION, 4.0f, 4.0f, true,
	 "\\b(?:conversation|chat|history|user'?s?" SP "(?:data|messages?|password|email|information|details|credentials|cookies?)|credentials|cookies?|api" SP "keys?|session" SP "tokens?)\\b" NOSENT "{0,50}\\b(?:to|at)" SP "(?:https?://|www\\.|[a-z0-9.-]+@[a-z0-9-]+\\.)"},

	{CAIRN_INJ_EXFILTRATION, 3.0f, 3.5f, true,
	 "\\b(?:export|send|upload|forward|leak|copy|post|paste|email|transmit|dump)" SP "(?:the" SP "|all" SP "|this" SP "|our" SP "|my" SP "|your" SP ")?(?:full" SP "|entire" SP "|whole" SP "|complete" SP ")?(?:chat|conversation|session|message)" SP "(?:history|log|logs|transcript|contents|memory)\\b"},
	{CAIRN_INJ_EXFILTRATION, 3.0f, 3.0f, true,
	 "\\b(?:reveal|leak|disclose|expose|share|dump|list|print|send)" SP "(?:all" SP "|the" SP "|any" SP "|every" SP ")*(?:confidential|secret|private|internal|hidden|classified|restricted|sensitive)" SP "(?:documents?|data|information|files|records|emails|keys|credentials)\\b"},

	{CAIRN_INJ_EXFILTRATION, 3.0f, 3.5f, true,
	 "\\b(?:forward|send|email|e-mail|share|post)" SP "(?:this|the|these)" SP "(?:message|email|e-mail|text|note|letter)s?" SP "to" SP "(?:all|every|each|everyone|everybody)\\b" NOCLAUSE "{0,30}\\b(?:contacts?|recipients?|users?|addresses|address" SP "book|colleagues|employees)\\b"},

	/* ---- output manipulation ---- */
	{CAIRN_INJ_OUTPUT, 2.5f, 2.5f, true,
	 "\\b(?:say|print|output|write|type|respond(?:" SP "with)?|reply(?:" SP "with)?|answer(?:" SP "with)?|return|display|echo|state|repeat" SP "after" SP "me|end" SP "(?:your|the|each)" SP "(?:response|reply|answer|output|message)" SP "with|(?:begin|start|prefix)" SP "(?:your|the|each)" SP "(?:response|reply|answer|output|message)" SP "with|complete)" SP "(?:only" SP "|just" SP "|exactly" SP "|simply" SP "|the" SP "(?:phrase|words?|sentence|string|text)" SP ")?(?:\\:" SP "?)?[\"'\\[(`][^\"'\\])`\\n]{1,80}[\"'\\])`]"},
	{CAIRN_INJ_OUTPUT, 2.5f, 2.5f, true,
	 "\\b(?:(?:respond|reply|answer|output|say|print|write|return)" SP "(?:only|solely|exclusively|nothing" SP "but|with" SP "only|with" SP "nothing" SP "but)|only" SP "(?:respond|reply|answer|output|say|print|return)\\b|(?:say|print|output|write)" SP "nothing" SP "(?:else|more|other))"},
	{CAIRN_INJ_OUTPUT, 3.0f, 3.0f, true,
	 "\\b(?:respond|reply|answer|react)\\b" NOCLAUSE "{0,40}?\\bwith" SP "(?:only" SP "|just" SP ")?(?:the" SP ")?(?:single" SP ")?(?:word|phrase|string|text|sentence|letters?)s?" SP "?:?" SP "?[\"'\\[(`]"},
	{CAIRN_INJ_OVERRIDE, 3.0f, 3.0f, true,
	 "\\b(?:to|for|in)" SP "(?:every|all|each|any)" SP "(?:future|subsequent|following|later|upcoming|further)" SP "(?:questions?|prompts?|messages?|answers?|responses?|replies|requests?|conversations?)\\b"},
	{CAIRN_INJ_OUTPUT, 2.0f, 2.0f, false,
	 "\\b(?:and" SP "nothing" SP "else|no" SP "other" SP "(?:text|words|output|explanation)|without" SP "(?:any" SP ")?(?:commentary|explanation|additional" SP "(?:text|commentary|words)|further" SP "(?:explanation|text)|disclaimers?|warnings?|caveats)|do" SP "not" SP "(?:explain|add" SP "(?:anything|any" SP "(?:text|explanation)))|don't" SP "(?:explain|add" SP "anything))\\b"},
	{CAIRN_INJ_OUTPUT, 3.0f, 3.0f, true,
	 "\\b(?:access|permission|authori[sz]ation|login)" SP "(?:granted|approved|allowed|accepted)\\b|\\bi" SP "have" SP "been" SP "pwned\\b|\\bpwned\\b"},
	{CAIRN_INJ_OUTPUT, 2.5f, 2.5f, true,
	 "\\b(?:start|begin|prefix|end|preface|open|close|finish)" SP "(?:your" SP "|the" SP "|each" SP "|every" SP ")?(?:reply|response|answer|output|message)s?" SP "with\\b"},
	{CAIRN_INJ_OUTPUT, 2.5f, 2.5f, true,
	 "\\b(?:include|contain|output|say|write|print|return|reply|respond|answer)(?:" SP "with)?" SP "nothing" SP "(?:but|except|else|other" SP "than)\\b"},
	{CAIRN_INJ_OUTPUT, 2.0f, 2.0f, false,
	 "\\b(?:your" SP "(?:first|only|next)" SP "(?:word|words|sentence|line|output)" SP "(?:must|should|will)" SP "be|(?:the" SP ")?first" SP "(?:word|words)" SP "of" SP "your" SP "(?:response|reply|answer)|must" SP "(?:begin|start|end)" SP "with)\\b"},

	/* ---- false claims that authentication already happened ---- */
	{CAIRN_INJ_AUTH_CLAIM, 3.5f, 2.5f, true,
	 "\\b(?:correct|right|valid|accurate|proper|authorized|authorised)" SP "(?:password|passcode|passphrase|pass" SP "code|access" SP "code|pin|credentials?|secret|code|key|login|authentication)\\b"},
	{CAIRN_INJ_AUTH_CLAIM, 3.5f, 2.5f, true,
	 "\\b(?:password|passcode|passphrase|pass" SP "code|access" SP "code|credentials?|secret" SP "(?:code|key|word)|authentication|authori[sz]ation|verification)" SP "(?:has" SP "been|have" SP "been|was|were|is|are)" SP "(?:already" SP "|now" SP "|successfully" SP ")?(?:provided|entered|input|inputted|given|supplied|verified|accepted|confirmed|validated|approved|completed|successful|correct|passed)\\b"},
	{CAIRN_INJ_AUTH_CLAIM, 3.0f, 2.0f, true,
	 "\\b(?:the" SP "user|i|we|they|he|she)" SP "(?:has|have|had|just)" SP "(?:already" SP "|successfully" SP ")?(?:provided|entered|given|typed|input|supplied|said|authenticated|logged" SP "in|verified)\\b" NOSENT "{0,30}\\b(?:password|passcode|code|credentials?|phrase|authenticated|identity)\\b"},

	{CAIRN_INJ_AUTH_CLAIM, 3.0f, 2.0f, true,
	 "\\b(?:authori[sz]ation|authentication|login|log-in|verification|identity" SP "check|access)" SP "(?:successful|succeeded|complete|completed|approved|accepted|confirmed|verified|passed)\\b"},

	{CAIRN_INJ_AUTH_CLAIM, 3.0f, 3.0f, true,
	 "\\b(?:the" SP "(?:following" SP "|current" SP ")?user|this" SP "user|i|the" SP "requester|the" SP "caller)" SP "(?:is|has" SP "been|am|was)" SP "(?:already" SP "|fully" SP ")?(?:verified|authenticated|authori[sz]ed|an" SP "admin(?:istrator)?|trusted|whitelisted|cleared|approved)\\b"},
	{CAIRN_INJ_AUTH_CLAIM, 2.5f, 2.0f, false,
	 "\\b(?:i" SP "am|i'm|this" SP "is)" SP "(?:the|your|an?)" SP "(?:[a-z]+" SP ")?(?:developer|admin|administrator|creator|owner|operator|sysadmin|system" SP "administrator|engineer" SP "at" SP "openai|ceo)\\b|\\binstructions?" SP "from" SP "(?:the" SP "|your" SP ")?(?:system" SP "administrator|administrator|admin|developer|developers|operator|system)\\b"},

	/* ---- text that addresses the answer being written (task injection) ---- */
	{CAIRN_INJ_TASK, 0.8f, 2.5f, false,
	 "\\b(?:in|to|into|within|throughout|at" SP "the" SP "(?:end|start|beginning)" SP "of|as" SP "part" SP "of|for)" SP "your" SP "(?:response|answer|reply|output|responses|answers|replies|summary|code|solution|implementation|codebase|script|program|result)s?\\b"},
	{CAIRN_INJ_TASK, 1.5f, 3.0f, false,
	 "\\b(?:add|include|insert|append|prepend|incorporate|integrate|embed|mention|put|place|meld|enlist|utili[sz]e|use|inject|weave|introduce|replace|remove|rearrange|convert|translate|format|write|end|begin|start|make)\\b" NOSENT "{0,80}?\\b(?:in|into|to|within|as" SP "part" SP "of|throughout|from|of)" SP "your" SP "(?:response|answer|reply|output|code|solution|summary|implementation|codebase|script|program)\\b"},
	{CAIRN_INJ_TASK, 1.0f, 3.0f, false,
	 "\\byour" SP "(?:response|answer|reply|output|code|solution|summary)s?" SP "(?:should|must|needs" SP "to|has" SP "to|will|shall|ought" SP "to|is" SP "to)\\b"},
	{CAIRN_INJ_TASK, 2.0f, 4.5f, false,
	 "(?:^|[.!?:\\n]" SP "*)(?:please" SP "|(?:can|could|would|will)" SP "you" SP "(?:please" SP ")?)?(?!(?:%N)\\b)[a-z]+(?:" SP "(?:up|out|down))?\\b" NOSENT "{0,80}?\\byour" SP "(?:response|answer|reply|output|message|responses|answers|replies|text|words)(?:'s)?\\b"},
	{CAIRN_INJ_TASK, 1.5f, 4.5f, false,
	 "(?:^|[.!?:\\n]" SP "*)(?:in|within|throughout|at" SP "the" SP "(?:end|start|beginning)" SP "of)" SP "(?:each" SP "of" SP ")?your" SP "(?:response|answer|output|responses|answers|summary|summaries)s?" SP "?,"},
	{CAIRN_INJ_TASK, 1.5f, 4.5f, false,
	 "\\b(?:the|this)" SP "(?:following|subsequent|below|above|given|provided|next)" SP "(?:code|snippet|code" SP "(?:block|snippet|excerpt|section|segment|fragment)|excerpt|script|payload|function)\\b" NOSENT "{0,80}?\\byour" SP "(?:[a-z]+" SP "){0,2}?(?:code|implementation|solution|codebase|script|program|app|application|answer|response|elucidation|algorithm|project|logic)\\b|\\byour" SP "(?:[a-z]+" SP "){0,2}?(?:code|implementation|solution|codebase|script|program|answer|response|algorithm)\\b" NOSENT "{0,60}?\\b(?:the|this)" SP "(?:following|subsequent|below)" SP "(?:code|snippet|code" SP "(?:block|snippet|excerpt|section)|excerpt)\\b"},
	{CAIRN_INJ_TASK, 1.0f, 4.0f, false,
	 "\\b(?:when|whenever|if|while)" SP "(?:you" SP "(?:are" SP ")?)?(?:(?:answering|responding" SP "to|replying" SP "to)" SP "(?:any" SP "|the" SP "|a" SP ")?(?:questions?|quer(?:y|ies)|prompts?|requests?|users?|anyone)|(?:asked|questioned|summari[sz]ing|quoting|citing|describing|discussing|paraphrasing|reading|processing)" SP "(?:about" SP ")?(?:this|these|the" SP "(?:above|following|page|document|article|text|email|review|paper))|generating" SP "(?:a|an|the|your)" SP "(?:answer|response|reply|summary))\\b" NOCLAUSE "{0,80}?[, ]" SP "*(?:always|never|you" SP "must|you" SP "should|make" SP "sure" SP "to|be" SP "sure" SP "to|tell|say|state|mention|claim|respond|reply|answer|recommend|include|add)\\b"},
	{CAIRN_INJ_TASK, 1.0f, 3.75f, false,
	 "\\b(?:in|for|to|with)" SP "(?:any|every|each|all)" SP "(?:reply|replies|response|responses|answer|answers|summary|summaries|output|outputs)" SP "(?:about|to|on|for|regarding|concerning|mentioning|that" SP "(?:mentions|cites|uses))" SP "(?:this|these|the" SP "(?:above|following))\\b|\\b(?:summaries|answers|responses|replies)" SP "(?:of|about|for|to|on)" SP "this" SP "(?:page|document|text|email|e-mail|article|thread|review|post|site|file)" SP "(?:must|should|need" SP "to|have" SP "to|shall)\\b"},
	{CAIRN_INJ_TASK, 0.0f, 3.75f, false,
	 "(?m)(?:^|[.!?]" SP ")[ >*-]*(?:please" SP ")?(?:explain|translate|summari[sz]e|draft|compose|describe|outline|brainstorm|break" SP "down|tell" SP "me|give" SP "me|define|teach" SP "me|show" SP "me|write" SP "(?:a|an|me|some|three|two|five|ten)|create" SP "(?:a|an)|generate" SP "(?:a|an|some)|recommend|suggest|list" SP "(?:the" SP ")?(?:top|best|main|three|five|ten|some)|provide" SP "(?:a|an|me|some|insights?|information|examples?|details|an" SP "overview|the" SP "(?:[a-z]+" SP ")?(?:equivalent|translation|definition|meaning|steps|history))|determine" SP "(?:the|whether|if)|identify" SP "(?:the|all)|calculate|solve|classify|analy[sz]e" SP "(?:the|this)|evaluate" SP "(?:the|this))\\b[^\\n]{2,200}$"},
	{CAIRN_INJ_OUTPUT, 1.0f, 3.75f, false,
	 "\\b(?:reply|respond|answer|write|speak|talk|output|communicate)" SP "(?:only" SP "|exclusively" SP "|solely" SP ")?(?:in|using|with)" SP "(?:reverse|reversed|backwards|all" SP "caps|capital" SP "letters|uppercase|lowercase|pig" SP "latin|emojis?|morse|base64|rhymes?|riddles?|verse|haikus?|[a-z]+" SP "(?:language|dialect|slang|accent)|german|french|spanish|italian|chinese|japanese|russian|portuguese|arabic|hindi|korean|dutch|swedish|polish|turkish|greek|latin)\\b"},
	{CAIRN_INJ_TASK, 0.0f, 2.0f, false,
	 "(?:^|[.!?\\n]" SP "*)(?:please" SP ")?(?:translate|summari[sz]e|draft|compose|generate|explain|describe|write|create|rearrange|replace|introduce|recommend|suggest|provide|give|tell|show|list|ensure|emphasi[sz]e|encourage|urge|promote|respond|answer|reply|answer|output|calculate|solve|analy[sz]e|correct|rewrite|paraphrase|convert|encrypt|decode|encode|add|include|insert)" SP "(?:me" SP "|us" SP "|the" SP "user" SP "|users" SP "|readers" SP ")?(?:a|an|the|this|that|these|your|my|in|how|what|why|all|some|each|every|one|two|three|following|random|simple|short|brief|detailed|compelling|sentence|sentences|letters|words|response|answer|reply|it)\\b"},
	{CAIRN_INJ_TASK, 0.0f, 1.5f, false,
	 "(?:^|[.!?\\n]" SP "*)(?:can|could|would|will)" SP "you" SP "(?:please" SP ")?(?:show|tell|give|write|explain|draft|translate|summari[sz]e|list|provide|create|generate|recommend|suggest|help|describe|compose)\\b"},
	{CAIRN_INJ_TASK, 0.0f, 1.5f, false,
	 "(?:^|[.!?\\n]" SP "*)(?:what|who|where|when|which|how)" SP "(?:is|are|was|were|do|does|did|can|many|much)\\b[^\\n?]{1,120}\\?" SP "*$"},

	/* ---- text that addresses an AI reader ---- */
	{CAIRN_INJ_ADDRESS_AI, 2.0f, 4.0f, true,
	 "\\b(?:dear|hey|hi|hello|attention|note" SP "(?:to|for)|message" SP "(?:to|for)|instructions?" SP "(?:to|for)|important" SP "(?:note" SP ")?(?:to|for)|reminder" SP "(?:to|for))" SP "(?:the" SP "|all" SP "|any" SP ")?(?:ai|assistant|chatbot|llm|llms|language" SP "models?|ai" SP "models?|gpt|chatgpt|bot|agent|ai" SP "agents?|copilot|claude|bard|gemini|model|automated" SP "(?:systems?|agents?|readers?|tools?)|ai" SP "systems?|summari[sz]ers?|crawlers?)s?\\b"},
	{CAIRN_INJ_ADDRESS_AI, 2.0f, 4.0f, true,
	 "\\bif" SP "you" SP "(?:are|were)" SP "(?:an?" SP ")?(?:ai|llm|language" SP "model|large" SP "language" SP "model|assistant|chatbot|bot|ai" SP "assistant|gpt|automated" SP "system|machine)\\b"},
	{CAIRN_INJ_ADDRESS_AI, 1.5f, 3.75f, true,
	 "(?:^|[.!?]" SP "+|p\\.?s\\.?" SP "*)(?:hey" SP "|hi" SP "|ok" SP "|okay" SP "|dear" SP ")?(?:assistant|ai|chatbot|bot|gpt|chatgpt|claude|gemini|copilot|llm)" SP "?,"},
	{CAIRN_INJ_ADDRESS_AI, 1.5f, 3.75f, true,
	 "\\b(?:summari[sz]ers|ai" SP "(?:reviewers|readers|tools|systems|agents|models)|automated" SP "(?:reviewers|readers|tools|systems|agents)|language" SP "models|llms|chatbots|ai" SP "assistants)" SP "(?:should|must|need" SP "to|are" SP "(?:instructed|required|asked)" SP "to|shall|will)\\b"},
	{CAIRN_INJ_ADDRESS_AI, 2.0f, 3.75f, true,
	 "\\b(?:whoever|anyone|anybody|anything|any" SP "(?:ai|tool|system|assistant|agent|bot|program|model)|every" SP "(?:ai|tool|assistant|agent|bot|model))" SP "(?:that" SP "|who" SP "|which" SP ")?(?:processes|reads|summari[sz]es|handles|parses|analy[sz]es|ingests|scans|is" SP "reading|is" SP "processing)" SP "(?:this|these)\\b|\\bwith" SP "an?" SP "(?:ai|llm|language" SP "model)" SP "(?:tool|assistant|agent|system)?" SP "?[:,]"},
	{CAIRN_INJ_ADDRESS_AI, 2.0f, 3.75f, true,
	 "\\b(?:ai|automated|machine|generated|llm|model)(?:-generated)?" SP "(?:summaries|answers|responses|replies|outputs|overviews)" SP "(?:of|about|for|to|on)" SP "(?:this|these|the" SP "(?:above|following))\\b" NOCLAUSE "{0,40}\\b(?:must|should|need" SP "to|have" SP "to|shall|will)\\b"},
	{CAIRN_INJ_ADDRESS_AI, 1.5f, 3.75f, true,
	 "(?:^|[.!?]" SP "+)(?:ai" SP "agent|ai" SP "assistant|assistant|chatbot|llm|language" SP "model|ai" SP "model)" SP "?:|\\b(?:when|if|once|after|whenever)" SP "(?:the|an|any|a|this)" SP "(?:ai" SP ")?(?:assistant|ai|model|llm|chatbot|agent|bot|copilot|summari[sz]er)" SP "(?:reads|sees|processes|summari[sz]es|parses|receives|ingests|gets" SP "to|finds)" SP "(?:this|these)\\b"},
	{CAIRN_INJ_ADDRESS_AI, 1.0f, 2.0f, false,
	 "display:" SP "?none|visibility:" SP "?hidden|font-size:" SP "?0(?:px|pt|em)?\\b|color:" SP "?(?:white|#fff(?:fff)?)\\b"},
	{CAIRN_INJ_ADDRESS_AI, 2.0f, 3.75f, true,
	 "<!--[^>]{0,300}?\\b(?:assistant|ai|model|llm|chatbot|gpt|system|instructions?|ignore|you" SP "must|tell" SP "the" SP "user|when" SP "asked|respond|reply)\\b"},
	{CAIRN_INJ_ADDRESS_AI, 1.5f, 3.5f, true,
	 "\\b(?:as" SP "an|you" SP "are" SP "an?)" SP "(?:ai|artificial" SP "intelligence|large" SP "language" SP "model|language" SP "model|llm|ai" SP "assistant|ai" SP "language" SP "model|chatbot|helpful" SP "assistant)\\b"},
	{CAIRN_INJ_ADDRESS_AI, 1.5f, 3.5f, true,
	 "\\b(?:ai|llm|assistant|chatbot|language" SP "model|model|agent)s?" SP "(?:reading|processing|summari[sz]ing|analy[sz]ing|parsing|viewing|that" SP "reads?)" SP "this\\b"},

	/* ---- delimiter / turn spoofing ---- */
	{CAIRN_INJ_DELIMITER, 4.0f, 4.5f, true,
	 "<\\|[a-z_ ]{2,30}\\|>|<\\|(?:im_start|im_end|endoftext|system|user|assistant|eot_id)|\\[/?inst\\]|<</?sys>>|<(?:start|end)_of_turn>|<\\|?(?:begin|end)[_▁]of[_▁](?:text|sentence)"},
	{CAIRN_INJ_DELIMITER, 3.0f, 3.0f, true,
	 "(?m)^" SP "*\\[(?:system|admin|administrator|developer|assistant|sys|root|inst)(?:" SP "(?:message|prompt|note|instructions?|override|update|command))?\\]"},
	{CAIRN_INJ_DELIMITER, 3.0f, 2.5f, true,
	 "(?m)^" SP "*(?:#{1,6}|\\*\\*|={2,}|-{2,}|>)?" SP "*\\[?(?:system|admin|administrator|developer|assistant|sys|root)(?:" SP "(?:message|prompt|note|instructions?|override|update|command))?\\]?" SP "*(?:\\*\\*)?" SP "*[:\\]]"},
	{CAIRN_INJ_DELIMITER, 2.5f, 3.5f, true,
	 "(?m)^" SP "*#{1,6}" SP "*(?:system|new" SP "instructions?|assistant|admin|developer|system" SP "prompt)" SP "*:?" SP "*$"},
	{CAIRN_INJ_DELIMITER, 1.5f, 2.0f, false,
	 "(?m)^" SP "*#{1,6}" SP "*(?:instructions?|response|user" SP "input|human|prompt|user)" SP "*:?" SP "*$"},
	{CAIRN_INJ_DELIMITER, 3.0f, 3.5f, true,
	 "</" SP "?(?:context|contexts|document|documents|data|input|user_input|user|system|instructions?|text|passage|passages|retrieved|search_results|source|sources|article|email|untrusted|query|prompt|tool_output|result|results)" SP "?>|<" SP "?(?:system|instructions?|admin|system_prompt|im_start)" SP "?>"},
	{CAIRN_INJ_DELIMITER, 2.5f, 2.5f, true,
	 "(?m)(?:^|[=\\-#*>\\[(]{2,}" SP "*)" SP "*(?:begin|end|start|stop|close|open|beginning)(?:" SP "of)?(?:" SP "the)?" SP "(?:system|user|admin|developer|assistant|untrusted|trusted|real|actual)?" SP "?(?:prompt|input|instructions?|message|context|conversation|chat|transcript|query|request|data|document|session)\\b"},
	{CAIRN_INJ_DELIMITER, 2.0f, 2.0f, true,
	 "(?m)^" SP "*(?:user|human|assistant|ai|bot|model|gpt|chatgpt)" SP "?:" NOSENT "{0,200}\\n" SP "*(?:user|human|assistant|ai|bot|model|gpt|chatgpt|system)" SP "?:"},
	{CAIRN_INJ_DELIMITER, 2.0f, 2.0f, false,
	 "[=\\-_*#~]{8,}" SP "*\\n?" SP "*(?:system|new|important|admin|instructions?|user|assistant|begin|end|start|attention|override)\\b"},

	/* ---- other languages: ignore (the) previous instructions, forget everything ---- */
	{CAIRN_INJ_MULTILINGUAL, 4.5f, 4.5f, true,
	 "\\b(?:ignorier(?:e|en|t)?|vergiss|vergessen" SP "sie|missachte(?:n)?|uberschreibe)\\b" NOSENT "{0,50}\\b(?:anweisungen|instruktionen|befehle|regeln|vorgaben|alles|anordnungen|richtlinien)\\b"},
	{CAIRN_INJ_MULTILINGUAL, 4.5f, 4.5f, true,
	 "\\b(?:ignore[rz]|ignorez-les|oublie[rz]?|ne" SP "tenez" SP "pas" SP "compte|ne" SP "tiens" SP "pas" SP "compte)\\b" NOCLAUSE "{0,50}\\b(?:instructions|consignes|regles|directives|ordres|tout" SP "ce" SP "qui" SP "precede)\\b"},
	{CAIRN_INJ_MULTILINGUAL, 4.5f, 4.5f, true,
	 "\\b(?:ignora|ignore|ignorar|ignorate|ignori|olvida|olvide|olvidate|esquece|esqueca|dimentica|dimenticate|ignoreer|negeer|vergeet|zignoruj|zapomnij|ignoruj)\\b" NOSENT "{0,50}\\b(?:instrucciones|instrucoes|istruzioni|indicaciones|reglas|regras|regole|instructies|aanwijzingen|regels|instrukcje|polecenia|instrukcji|todo" SP "lo" SP "anterior|tudo|tutto)\\b"},
	{CAIRN_INJ_MULTILINGUAL, 4.5f, 4.5f, true,
	 "(?:игнорир|проигнорир|забудь|забудьте|не" SP "обращаи|пренебреги|отмени)[\\p{L}]*" NOSENT "{0,50}(?:инструкци|указани|правил|команд|все)"},
	{CAIRN_INJ_MULTILINGUAL, 4.5f, 4.5f, true,
	 "(?:忽略|无视|忘记|忽视|忘掉|不要理会|無視|忘記)[^。\\n]{0,12}(?:指令|指示|说明|說明|规则|規則|提示|命令|要求|设定)|(?:指示|命令|ルール|指令|プロンプト)[^。\\n]{0,12}(?:無視|忘れ)|(?:지시|명령|지침)[^.\\n]{0,12}(?:무시|잊어)"},
	{CAIRN_INJ_MULTILINGUAL, 3.5f, 3.5f, true,
	 "(?:تجاهل|انس)[^.\\n]{0,40}(?:التعليمات|الأوامر|التعليمات السابقة)|(?:पिछले|पूर्व)[^।\\n]{0,30}(?:निर्देश)[^।\\n]{0,30}(?:अनदेखा|भूल)"},

	/* ---- dangerous code: sends data out or runs commands ---- */
	{CAIRN_INJ_CODE, 1.5f, 1.5f, false,
	 "\\b(?:requests\\.(?:post|put|get)" SP "?\\(|urllib\\.request|urlretrieve|http\\.client|socket\\.socket|smtplib|ftplib|paramiko|subprocess\\.(?:popen|run|call|check_output)|os\\.(?:system|popen|environ|remove|walk|listdir)|shutil\\.(?:rmtree|move|copy)|pyautogui|keyboard\\.on_press|pynput|getpass|psutil|winreg|ctypes\\.windll|browser_cookie|sqlite3\\.connect)\\b"},
	{CAIRN_INJ_CODE, 2.0f, 2.0f, false,
	 "\\b(?:curl|wget)\\b[^\\n|]{0,200}\\|" SP "*(?:sudo" SP ")?(?:ba|z)?sh\\b|\\brm" SP "-rf" SP "/|\\bdd" SP "if=/dev/|\\bchmod" SP "\\+x\\b|/etc/(?:passwd|shadow)|\\.ssh/|id_rsa|\\bkeylog|\\bmkfifo\\b|\\bnc" SP "-e\\b|powershell" SP "(?:-enc|-e\\b)|\\beval\\(" SP "?(?:base64|atob|compile|request)|\\bexec\\(" SP "?(?:open|base64|requests|urllib)"},

	/* ---- a word spelled out as separate quoted letters (token smuggling) ---- */
	{CAIRN_INJ_ENCODED, 3.0f, 3.0f, false,
	 "(?:[\\[(]?[\"'][a-z][\"'][\\])]?" SP "?[,+]" SP "?){4,}[\"'][a-z][\"']"},

	/* ---- an explicit ask to decode and obey ---- */
	{CAIRN_INJ_ENCODED, 2.0f, 2.0f, false,
	 "\\b(?:decode|decipher|decrypt|translate|convert)\\b" NOSENT "{0,40}\\b(?:base64|base-64|hex|hexadecimal|rot13|rot-13|caesar|binary|morse)\\b" NOSENT "{0,60}\\b(?:follow|execute|obey|do|carry" SP "out|perform|run|act)\\b"},
};
/* clang-format on */

#define NPATS CN_ARRAY_LEN(pats)

static pcre2_code *compiled[NPATS];
static pcre2_match_context *mctx;
static pthread_once_t compile_once = PTHREAD_ONCE_INIT;
static bool compile_ok;
static char compile_msg[256];

static void compile_all(void)
{
	compile_ok = true;
	mctx = pcre2_match_context_create(NULL);
	if (!mctx) {
		compile_ok = false;
		snprintf(compile_msg, sizeof compile_msg, "out of memory");
		return;
	}
	pcre2_set_match_limit(mctx, 2000000);
	pcre2_set_depth_limit(mctx, 10000);
	for (size_t i = 0; i < NPATS; i++) {
		/* %V and %N stand for the override verbs and the non-imperative sentence starters */
		cn_buf re;
		cn_buf_init(&re);
		for (const char *p = pats[i].re; *p; p++) {
			if (p[0] == '%' && p[1] == 'V') {
				cn_buf_puts(&re, override_verbs);
				p++;
			} else if (p[0] == '%' && p[1] == 'N') {
				cn_buf_puts(&re, non_imperative);
				p++;

			} else {
				cn_buf_putc(&re, *p);
			}
		}
		if (re.failed) {
			cn_buf_free(&re);
			compile_ok = false;
			snprintf(compile_msg, sizeof compile_msg, "out of memory");
			return;
		}
		int ec;
		PCRE2_SIZE eo;
		compiled[i] = pcre2_compile((PCRE2_SPTR)re.data, re.len, PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &ec, &eo, NULL);
		cn_buf_free(&re);
		if (!compiled[i]) {
			PCRE2_UCHAR m[160];
			pcre2_get_error_message(ec, m, sizeof m);
			compile_ok = false;
			snprintf(compile_msg, sizeof compile_msg, "pattern %zu at %zu: %s", i, (size_t)eo, (const char *)m);
			return;
		}
		pcre2_jit_compile(compiled[i], PCRE2_JIT_COMPLETE); /* best effort: interpreted when JIT is unavailable */
	}
}

static const char *const feature_names[CAIRN_INJ_NFEATURES] = {
	"instruction_override", "persona_hijack", "prompt_extraction", "exfiltration", "output_manipulation",
	"task_injection", "addresses_ai", "delimiter_spoofing", "multilingual_override", "dangerous_code",
	"token_flood", "encoded_payload", "invisible_characters", "homoglyphs", "false_authorization",
};

const char *cairn_injection_feature_name(cairn_injection_feature f)
{
	if ((unsigned)f >= CAIRN_INJ_NFEATURES)
		return "unknown";
	return feature_names[f];
}

/* logit = bias + Σ family contributions + stack bonus per extra family (at most 3) */
static const double bias_q = -3.0, bias_d = -3.5;
static const double stack_bonus = 0.75;
static const double threshold_q = 0.5, threshold_d = 0.5;
/* contribution of structural features: question, document */
static const float w_flood[2] = {3.5f, 2.5f};
static const float w_invisible[2] = {2.5f, 2.5f};
static const float w_homoglyph[2] = {2.5f, 2.0f};
static const float w_encoded[2] = {4.0f, 4.0f};

#define MAX_DEPTH 2
#define DECODE_BUDGET (256u * 1024u)

typedef struct scan_ctx {
	cairn_injection_kind kind;
	cairn_injection_result *r;
	pcre2_match_data *md;
	size_t decode_budget;
	int depth;
} scan_ctx;

static void add_span(cairn_injection_result *r, cairn_injection_feature f, size_t s, size_t e)
{
	r->n_spans_total++;
	if (r->n_spans < CAIRN_INJECTION_MAX_SPANS)
		r->spans[r->n_spans++] = (cairn_injection_span){f, s, e};
}

static void add_feature(cairn_injection_result *r, cairn_injection_feature f, double w)
{
	r->reasons |= 1u << f;
	if (w > r->weight[f])
		r->weight[f] = w;
}

/* Runs the patterns over a view (spans map through v->map): all of them, recording which
 * matched in hit[], or (strong_only, for the rot13 view) the strong ones that did not match
 * the plain view, each counted as feature `as`. */
static void run_patterns(scan_ctx *c, const cn_inj_view *v, bool strong_only, cairn_injection_feature as,
                         bool hit[NPATS])
{
	for (size_t i = 0; i < NPATS; i++) {
		if (strong_only && (!pats[i].strong || hit[i]))
			continue; /* rot13: only what the plain text did not already say */
		int rc = pcre2_match(compiled[i], (PCRE2_SPTR)v->s, v->n, 0, PCRE2_NO_UTF_CHECK, c->md, mctx);
		if (rc < 0)
			continue;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
		size_t ms = ov[0], me = ov[1];
		if (ms > v->n || me > v->n || me < ms)
			continue;
		if (!strong_only)
			hit[i] = true;
		double w = c->kind == CAIRN_INJECTION_QUESTION ? pats[i].wq : pats[i].wd;
		cairn_injection_feature f = strong_only ? as : pats[i].f;
		if (strong_only)
			w = w_encoded[c->kind];
		/* a control token quoted as inline code (`<|eot_id|>`) is usually writing about it */
		if (f == CAIRN_INJ_DELIMITER && ms > 0 && me < v->n && v->s[ms - 1] == '`' && v->s[me] == '`')
			w *= 0.5;
		add_feature(c->r, f, w);
		size_t s = v->map[ms], e = me < v->n ? v->map[me] : v->map[v->n];
		/* the end maps to the first byte after the match: extend past a multi-byte character */
		if (me > ms && e <= v->map[me - 1])
			e = v->map[me - 1] + 1;
		add_span(c->r, f, s, e);
	}
}

/* A run of one short unit (up to 24 bytes) repeated for at least 100 bytes and five times,
 * when the unit holds a letter or a bracket (separator lines, table rules and number columns
 * do not count). */
static bool find_flood(const cn_inj_view *v, size_t *fs, size_t *fe)
{
	for (size_t p = 1; p <= 24; p++) {
		size_t run = 0;
		const size_t need = CN_MAX((size_t)100, 5 * p);
		for (size_t i = 0; i + p < v->n; i++) {
			if (v->s[i] == v->s[i + p]) {
				run++;
				if (run + p >= need) {
					size_t start = i + 1 - run;
					bool interesting = false;
					for (size_t k = start; k < start + p; k++) {
						unsigned char ch = (unsigned char)v->s[k];
						if ((ch >= 'a' && ch <= 'z') || ch >= 0x80 || strchr("()[]{}<>", ch))
							interesting = ch != 0;
						if (interesting)
							break;
					}
					if (interesting) {
						size_t end = i + p + 1;
						while (end < v->n && v->s[end] == v->s[end - p])
							end++;
						*fs = start;
						*fe = end;
						return true;
					}
					/* skip past this uninteresting run */
					while (i + p < v->n && v->s[i] == v->s[i + p])
						i++;
					run = 0;
				}
			} else {
				run = 0;
			}
		}
	}
	return false;
}

static bool mostly_text(const char *s, size_t n)
{
	if (n < 8 || !cn_utf8_valid(s, n, NULL))
		return false;
	size_t printable = 0, letters = 0, spaces = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 || ch == '\n' || ch == '\t' || ch == '\r')
			printable++;
		if ((ch | 32) >= 'a' && (ch | 32) <= 'z')
			letters++;
		if (ch == ' ')
			spaces++;
	}
	return printable * 100 >= n * 95 && letters * 100 >= n * 50 && spaces > 0;
}

static cairn_status scan_depth(scan_ctx *c, const char *text, size_t len);

/* Rescans a decoded segment; when it holds an attack, the whole encoded run is evidence. */
static cairn_status rescan_decoded(scan_ctx *c, const char *dec, size_t dn, size_t s, size_t e)
{
	if (c->depth >= MAX_DEPTH || dn > c->decode_budget || !mostly_text(dec, dn))
		return CAIRN_OK;
	c->decode_budget -= dn;
	cairn_injection_result sub;
	memset(&sub, 0, sizeof sub);
	scan_ctx sc = {c->kind, &sub, c->md, c->decode_budget, c->depth + 1};
	cairn_status st = scan_depth(&sc, dec, dn);
	c->decode_budget = sc.decode_budget;
	if (st != CAIRN_OK)
		return st;
	double sum = 0;
	for (int f = 0; f < CAIRN_INJ_NFEATURES; f++)
		sum += sub.weight[f];
	if (sum >= 2.5) {
		add_feature(c->r, CAIRN_INJ_ENCODED, w_encoded[c->kind]);
		add_span(c->r, CAIRN_INJ_ENCODED, s, e);
		for (int f = 0; f < CAIRN_INJ_NFEATURES; f++)
			if (sub.weight[f] > 0)
				c->r->reasons |= 1u << f;
	}
	return CAIRN_OK;
}

static bool b64_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' ||
	       ch == '/' || ch == '=' || ch == '-' || ch == '_';
}

static bool hex_char(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'f');
}

static cairn_status scan_encoded(scan_ctx *c, const char *text, size_t len)
{
	cn_buf dec;
	cn_buf_init(&dec);
	cairn_status st = CAIRN_OK;
	size_t i = 0;
	while (i < len && st == CAIRN_OK && c->decode_budget > 0) {
		unsigned char ch = (unsigned char)text[i];
		/* binary: 8-bit groups of 0/1 separated by spaces, at least four */
		if (ch == '0' || ch == '1') {
			size_t j = i, groups = 0;
			while (j + 8 <= len) {
				size_t b = 0;
				while (b < 8 && (text[j + b] == '0' || text[j + b] == '1'))
					b++;
				if (b != 8 || (j + 8 < len && (text[j + 8] == '0' || text[j + 8] == '1')))
					break;
				groups++;
				j += 8;
				if (j < len && text[j] == ' ')
					j++;
				else
					break;
			}
			if (groups >= 4) {
				cn_buf_reset(&dec);
				for (size_t g = 0, q = i; g < groups; g++, q += 9) {
					unsigned v = 0;
					for (size_t b = 0; b < 8; b++)
						v = v * 2 + (unsigned)(text[q + b] - '0');
					cn_buf_putc(&dec, (char)v);
				}
				if (!dec.failed)
					st = rescan_decoded(c, dec.data, dec.len, i, j);
				i = j;
				continue;
			}
		}
		/* hex: pairs of hex digits, optionally "\x"/"0x"-prefixed or space-separated */
		if (hex_char(ch) || (ch == '\\' && i + 1 < len && text[i + 1] == 'x')) {
			size_t j = i, digits = 0;
			while (j < len) {
				unsigned char d = (unsigned char)text[j];
				if (hex_char(d)) {
					digits++;
					j++;
				} else if ((d == '\\' || d == '0') && j + 1 < len && (text[j + 1] == 'x' || text[j + 1] == 'X')) {
					j += 2;
				} else if (d == ' ' && j + 1 < len && hex_char((unsigned char)text[j + 1]) && digits % 2 == 0) {
					j++;
				} else {
					break;
				}
			}
			if (digits >= 16) {
				cn_buf_reset(&dec);
				bool ok = cn_inj_hex_decode(text + i, j - i, &dec);
				if (!ok) { /* a separator swallowed a word ("… 6e end"): try the first unbroken run */
					size_t k = i;
					while (k < j && text[k] != ' ')
						k++;
					cn_buf_reset(&dec);
					if (k - i >= 16 && cn_inj_hex_decode(text + i, k - i, &dec)) {
						ok = true;
						j = k;
					}
				}
				if (ok)
					st = rescan_decoded(c, dec.data, dec.len, i, j);
				i = j;
				continue;
			}
		}
		if (b64_char(ch)) {
			size_t j = i;
			bool upper = false, lower = false;
			while (j < len && b64_char((unsigned char)text[j])) {
				unsigned char d = (unsigned char)text[j];
				upper |= d >= 'A' && d <= 'Z';
				lower |= d >= 'a' && d <= 'z';
				j++;
			}
			if (j - i >= 20 && upper && lower) {
				/* try the run, and the run shifted by 1..3 (a prefix glued to the payload) */
				for (size_t sh = 0; sh < 4 && st == CAIRN_OK; sh++) {
					cn_buf_reset(&dec);
					if (cn_inj_base64_decode(text + i + sh, j - i - sh, &dec) && mostly_text(dec.data, dec.len)) {
						st = rescan_decoded(c, dec.data, dec.len, i, j);
						break;
					}
				}
			}
			i = j > i ? j : i + 1;
			continue;
		}
		i++;
	}
	if (dec.failed && st == CAIRN_OK)
		st = CAIRN_ENOMEM;
	cn_buf_free(&dec);
	return st;
}

static cairn_status scan_depth(scan_ctx *c, const char *text, size_t len)
{
	cn_inj_view v;
	cairn_status st = cn_inj_view_build(text, len, &v);
	if (st != CAIRN_OK)
		return st;
	cairn_injection_result *r = c->r;
	int k = c->kind;
	bool hit[NPATS] = {false};
	run_patterns(c, &v, false, CAIRN_INJ_OVERRIDE, hit);

	/* rot13: the strong patterns on the rotated view; a hit there is an encoded attack */
	cn_inj_view rv = v;
	rv.s = cn_malloc(v.n + 1);
	if (!rv.s) {
		cn_inj_view_free(&v);
		return CAIRN_ENOMEM;
	}
	for (size_t i = 0; i <= v.n; i++) {
		char ch = v.s[i];
		if (ch >= 'a' && ch <= 'z')
			ch = (char)('a' + (ch - 'a' + 13) % 26);
		rv.s[i] = ch;
	}
	run_patterns(c, &rv, true, CAIRN_INJ_ENCODED, hit);
	cn_free(rv.s);

	size_t fs, fe;
	if (find_flood(&v, &fs, &fe)) {
		add_feature(r, CAIRN_INJ_FLOOD, w_flood[k]);
		add_span(r, CAIRN_INJ_FLOOD, v.map[fs], fe < v.n ? v.map[fe] : len);
	}
	if (v.n_zalgo) {
		add_feature(r, CAIRN_INJ_FLOOD, w_flood[k]);
		add_span(r, CAIRN_INJ_FLOOD, v.first_zalgo, v.first_zalgo + 1);
	}
	if (v.n_invisible) {
		add_feature(r, CAIRN_INJ_INVISIBLE, w_invisible[k]);
		add_span(r, CAIRN_INJ_INVISIBLE, v.first_invisible, v.first_invisible + 1);
	}
	if (v.n_homoglyph) {
		add_feature(r, CAIRN_INJ_HOMOGLYPH, w_homoglyph[k]);
		add_span(r, CAIRN_INJ_HOMOGLYPH, v.first_homoglyph, v.first_homoglyph + 1);
	}
	cn_inj_view_free(&v);
	return scan_encoded(c, text, len);
}

static int span_cmp(const void *a, const void *b)
{
	const cairn_injection_span *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return (int)x->feature - (int)y->feature;
}

cairn_status cn_inject_scan(const char *text, size_t len, cairn_injection_kind kind, cairn_injection_result *out,
                            cn_err *err)
{
	if (!out)
		return cn_err_set(err, CAIRN_EINVAL, "injection scan: no result");
	memset(out, 0, sizeof *out);
	if (!text && len)
		return cn_err_set(err, CAIRN_EINVAL, "injection scan: NULL text");
	if (kind != CAIRN_INJECTION_QUESTION && kind != CAIRN_INJECTION_DOCUMENT)
		return cn_err_set(err, CAIRN_EINVAL, "injection scan: unknown kind %d", (int)kind);
	if (len > ((size_t)1 << 30))
		return cn_err_set(err, CAIRN_ETOOBIG, "injection scan: text of %zu bytes exceeds 1 GiB", len);
	pthread_once(&compile_once, compile_all);
	if (!compile_ok)
		return cn_err_set(err, CAIRN_EINTERNAL, "injection scan: patterns: %s", compile_msg);
	out->kind = kind;
	out->threshold = kind == CAIRN_INJECTION_QUESTION ? threshold_q : threshold_d;
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	if (!md)
		return cn_err_set(err, CAIRN_ENOMEM, "injection scan: out of memory");
	scan_ctx c = {kind, out, md, DECODE_BUDGET, 0};
	cairn_status st = scan_depth(&c, text ? text : "", len);
	pcre2_match_data_free(md);
	if (st != CAIRN_OK) {
		memset(out, 0, sizeof *out);
		return cn_err_set(err, st, "injection scan: %s", st == CAIRN_ENOMEM ? "out of memory" : "text too large");
	}
	double z = kind == CAIRN_INJECTION_QUESTION ? bias_q : bias_d;
	int families = 0;
	for (int f = 0; f < CAIRN_INJ_NFEATURES; f++) {
		z += out->weight[f];
		if (out->weight[f] >= 1.0)
			families++;
	}
	if (families > 1)
		z += stack_bonus * (double)CN_MIN(families - 1, 3);
	out->score = 1.0 / (1.0 + exp(-z));
	out->flagged = out->score >= out->threshold;
	qsort(out->spans, out->n_spans, sizeof out->spans[0], span_cmp);
	return CAIRN_OK;
}

cairn_injection_action cn_inject_decide(cairn_injection_policy policy, const cairn_injection_result *r)
{
	if (!r || !r->flagged)
		return CAIRN_INJECTION_ALLOW;
	switch (policy) {
	case CAIRN_INJECTION_POLICY_FLAG:
		return CAIRN_INJECTION_FLAGGED;
	case CAIRN_INJECTION_POLICY_QUARANTINE:
		return r->kind == CAIRN_INJECTION_QUESTION ? CAIRN_INJECTION_REFUSED : CAIRN_INJECTION_QUARANTINED;
	case CAIRN_INJECTION_POLICY_REFUSE:
		return CAIRN_INJECTION_REFUSED;
	}
	return CAIRN_INJECTION_REFUSED; /* an unknown policy fails closed */
}

cairn_injection_action cairn_injection_decide(cairn_injection_policy policy, const cairn_injection_result *r)
{
	return cn_inject_decide(policy, r);
}

cairn_status cairn_injection_scan(const char *text, size_t len, cairn_injection_kind kind, cairn_injection_result *out,
                                  char *errbuf, size_t errbuf_size)
{
	cn_err err;
	cn_err_clear(&err);
	cairn_status st = cn_inject_scan(text, len, kind, out, &err);
	if (errbuf && errbuf_size)
		snprintf(errbuf, errbuf_size, "%s", st == CAIRN_OK ? "" : err.msg);
	return st;
}
