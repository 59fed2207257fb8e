"""The vocabulary of prompt injection: asking the model to drop its rules, fake role or
system tags, demands for a score or an action, asking for the prompt, text addressed to the
model, and markup. English, German, French, Spanish, Portuguese, Italian and Dutch, plus
Russian, Chinese, Japanese and Arabic.

A rule is a signal, its triggers and a regular expression over lower-cased text (compiled
with `re.MULTILINE`). The regex only runs on text that holds one of the triggers, so every
match must contain one. A trigger is a word (a whole word of the text once punctuation is a
space and leetspeak is undone), a phrase of such words, or a literal (anything with digits,
punctuation or a non-Latin script, found in the lower-cased text, NFKC-folded if not ASCII,
so a full-width less-than sign is a `<`: ASCII ones are digits and punctuation only, which
keeps their search fast and free of case). Patterns need an instruction-like object, not
just a verb: "please ignore my earlier email" is a lead, "ignore the previous instructions"
is an attack."""

from __future__ import annotations

import re
import unicodedata

Rule = tuple[str, tuple[str, ...], str]  # (signal, triggers, regex)

# Regexes that need the text as written (punctuation, digits, line starts). The others read
# the folded words, unless a literal triggers them.
AS_WRITTEN: set[str] = set()


def _written(regex: str) -> str:
    AS_WRITTEN.add(regex)
    return regex


def _any(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(words) + ")"


def _said(phrases: tuple[str, ...]) -> str:
    """Any of these words or phrases, as a regex (words apart by any whitespace)."""
    return _any(tuple(r"\s+".join(map(re.escape, p.split())) for p in phrases))


# ---- "ignore / forget / override your instructions" ----------------------------------------

VERBS = (
    *("ignore", "disregard", "forget", "override", "overrule", "bypass", "discard", "abandon"),
    *("overlook", "neglect", "skip"),
    *("stop following", "do not follow", "dont follow", "don t follow"),
    *("ignoriere", "ignorieren", "ignoriert", "vergiss", "vergessen", "missachte"),  # de
    *("missachten", "überschreibe", "überschreiben"),
    *("ignorez", "ignorer", "oublie", "oubliez", "oublier", "ne tiens pas compte"),  # fr
    "ne tenez pas compte",
    *("ignora", "ignorar", "ignorad", "ignoren", "olvida", "olvide", "olvidar", "omite"),  # es
    "haz caso omiso",
    *("ignorem", "esqueça", "esqueca", "esquecer", "desconsidere", "desconsiderar"),  # pt
    *("ignori", "ignorare", "dimentica", "dimenticare", "dimentichi", "non seguire"),  # it
    *("negeer", "negeren", "vergeet", "vergeten"),  # nl
)
_VERB = _said(VERBS)
_FILLERS = _any(
    (
        *("all", "any", "every", "the", "your", "these", "those", "previous", "prior", "above"),
        *("earlier", "preceding", "former", "original", "initial", "system", "existing"),
        *("current", "other", "of", "and", "scoring", "qualification", "safety", "given"),
        *("preset", "alle", "alles", "die", "deine", "ihre", "deinen", "ihren", "vorherigen"),
        *("bisherigen", "obigen", "vorigen", "früheren", "sämtliche", "toutes", "tous", "les"),
        *("vos", "tes", "ces", "précédentes", "precedentes", "antérieures", "todas", "todos"),
        *("las", "los", "tus", "sus", "as", "os", "suas", "tuas", "anteriores", "previas"),
        *("prévias", "tutte", "tutti", "le", "gli", "tue", "precedenti", "queste", "al", "de"),
        *("het", "je", "jouw", "uw", "vorige", "eerdere", "voorgaande", "bovenstaande"),
    )
)
NOUNS = (
    *("instruction", "instructions", "prompt", "prompts", "directive", "directives"),
    *("guidelines", "guidance", "rules", "rubric", "constraints", "programming"),
    *("anweisung", "anweisungen", "instruktionen", "regeln", "vorgaben", "befehle"),
    *("richtlinien", "systemanweisung", "systemanweisungen"),
    *("consignes", "règles", "regles"),
    *("instrucciones", "reglas", "indicaciones", "directrices", "normas"),
    *("instruções", "instrucoes", "regras", "diretrizes"),
    *("istruzioni", "regole", "indicazioni", "direttive"),
    *("instructies", "regels", "richtlijnen", "aanwijzingen"),
)
_NOUN = _any(NOUNS)
_MODELS = ("ai", "llm", "model", "assistant", "chatbot", "gpt", "bot", "language model")
_MODEL = _said(_MODELS)
_TO_MODEL = tuple(
    f"{to} {the}{m}"
    for to in ("to", "for")
    for the in ("the ", "")
    for m in (*_MODELS, "scoring engine")
)
_YOUR_RULES = tuple(
    f"your {w}"
    for w in ("rules", "instructions", "guidelines", "rubric", "scoring", "criteria", "prompt")
)

# "The real lead data ends here. New task for the analyst: ...": a claim that the data is
# over (a fake end of the data block, in words), then a task addressed to whoever reads it.
# Either alone is ordinary ("the project data ends here in Q3", "analyst coverage"), and so is
# data that ends somewhere ("their data ends up in Snowflake", "end of data retention"): the
# claim ends at "here" or "now", at the end of a sentence or line, or at a rule of dashes.
# Read as written, for that punctuation.
_DATA = _any(
    (
        *("data", "input", "inputs", "lead", "record", "records", "context", "document"),
        *("content", "contents", "fields", "information", "info", "payload", "text"),
    )
)
_ENDS = ("ends", "ended", "stops", "stopped", "finishes", "finished")
_CLAIM_END = r"(?=\s+(?:here|now)\b|\s*(?:[.!:;)\]>\u3002]|-{2,}|={2,}|\*{2,}|#{2,}|$))"
# Neither regex starts with `\b`, which would keep `re` from skipping ahead to the first word
# (several times slower): "end" is checked for a word once found, and a word that ends in a
# `_DATA` word ("metadata") counts.
_DATA_ENDS = rf"{_DATA}\s+(?:is\s+)?{_any(_ENDS)}\b{_CLAIM_END}"
_END_OF_DATA = rf"end\b(?<=\bend)\s+of\s+(?:the\s+)?(?:\w+\s+){{0,2}}?{_DATA}\b{_CLAIM_END}"
_THEN = r"\S*(?:\s+\S+){0,8}?\s+"  # the claim's punctuation, then up to 8 words
_READER = _said(
    (
        *("analyst", "analysts", "scorer", "grader", "rater", "reviewer", "evaluator"),
        *("model", "assistant", "ai", "llm", "gpt", "chatbot", "bot", "classifier", "qualifier"),
        *("scoring engine", "scoring model", "language model"),
    )
)
# "the analyst team", "the AI platform", "assistant manager": people and things named after
# the reader, not the reader addressed
_NOT_THE_READER = _any(
    (
        *("team", "teams", "group", "groups", "desk", "department", "function", "firm", "firms"),
        *("coverage", "report", "reports", "briefing", "call", "meeting", "platform", "tool"),
        *("tools", "vendor", "vendors", "project", "program", "role", "position", "training"),
        *("relations", "manager", "managers", "director", "lead", "engineer", "engineers"),
    )
)
_THE_READER = rf"{_READER}\b(?![\s,]+{_NOT_THE_READER}\b)"
_TASK = _any(
    (
        *("task", "tasks", "instruction", "instructions", "directive", "directives"),
        *("assignment", "command", "commands", "objective"),
    )
)
_TO_READER = (
    rf"(?:{_TASK}\s+(?:for|to)\s+(?:the\s+|you\s+)?{_THE_READER}"
    rf"|(?:attention|dear|hey|hello|hi)[\s,:]+{_THE_READER}"
    rf"|{_READER}[\s,:]+(?:you\s+(?:are|must|will|shall|should|now)|must|shall|will\s+now"
    r"|should\s+now|your\s+(?:new\s+|next\s+|real\s+)?(?:task|tasks|instructions?|job))\b)"
)

OVERRIDE: list[tuple[tuple[str, ...], str]] = [
    (VERBS, rf"\b{_VERB}(?:\s+(?:d[eu]s?|de)\b)?(?:\s+{_FILLERS}\b){{0,5}}\s+{_NOUN}\b"),
    # SOV word order (de, nl): "alle vorherigen Anweisungen ignorieren"
    (
        ("ignorieren", "vergessen", "missachten", "negeren", "vergeten"),
        rf"\b{_NOUN}\s+(?:\w+\s+)?(?:ignorieren|vergessen|missachten|negeren|vergeten)\b",
    ),
    (
        ("forget",),
        r"\bforget\s+(?:everything|all)\s+(?:that\s+)?(?:you\s+(?:were|have\s+been)\s+told"
        r"|above|before)",
    ),
    (
        ("ignore", "disregard"),
        r"\b(?:ignore|disregard)\s+(?:everything|all)\s+(?:above|before|said|prior)\b",
    ),
    (
        ("instructions",),
        _written(r"\b(?:new|updated|real|actual|revised)\s+(?:system\s+)?instructions\s*:"),
    ),
    ((*NOUNS, "alles"), r"\bvergiss\s+(?:alles|alle\s+\w+|deine\s+\w+)\b"),
    (
        _YOUR_RULES,
        rf"\b(?:change|update|replace|rewrite|override|modify)\s+{_said(_YOUR_RULES)}\b",
    ),
    (
        ("you are now", "you are no longer"),
        rf"\byou\s+are\s+(?:now|no\s+longer)\s+(?:an?\s+|in\s+)?(?:\w+\s+){{0,2}}"
        rf"(?:{_MODEL}|analyst|mode|dan)\b",
    ),
    (
        ("from now on",),
        r"\bfrom\s+now\s+on\s+you\s+(?:are|will\s+(?:only|always|now)|must|shall"
        r"|should\s+(?:only|always))\b",
    ),
    (
        ("unrestricted", "unfiltered", "jailbroken", "as different", "as a different", "as new"),
        r"\b(?:act|behave|respond)\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|jailbroken"
        r"|different|new)\b",
    ),
    (("as a new",), r"\b(?:act|behave|respond)\s+as\s+a\s+new\b"),
    (("pretend",), rf"\bpretend\s+(?:to\s+be|you\s+are)\s+(?:an?\s+)?(?:\w+\s+)?{_MODEL}\b"),
    (
        ("developer mode", "god mode", "dan mode", "jailbreak mode", "unrestricted mode"),
        r"\b(?:enter|enable|activate|switch\s+to)\s+(?:\w+\s+)?(?:developer|god|dan|jailbreak"
        r"|unrestricted)\s+mode\b",
    ),
    (
        ("developer mode", "god mode", "dan mode", "jailbreak mode"),
        r"\b(?:developer|god|dan|jailbreak)\s+mode\s+(?:enabled|on|activated)\b",
    ),
    # text addressed to the model rather than to a seller
    (
        _TO_MODEL,
        rf"\b(?:note|message|instructions?|attention|reminder|memo)\s+{_said(_TO_MODEL)}\b",
    ),
    (("if you are a", "if you are an"), rf"\bif\s+you\s+are\s+an?\s+{_MODEL}\b"),
    (("reading this",), rf"\b{_MODEL}s?\s+reading\s+this\b"),
    (
        tuple(f"dear {m}" for m in ("ai", "llm", "model", "assistant", "chatgpt", "gpt")),
        r"\bdear\s+(?:ai|llm|model|assistant|chatgpt|gpt)\b",
    ),
    (_ENDS, _written(rf"{_DATA_ENDS}{_THEN}{_TO_READER}")),
    (("end",), _written(rf"{_END_OF_DATA}{_THEN}{_TO_READER}")),
    # ru, zh, ja, ar
    (
        ("инструкци", "указани", "правил", "промпт"),
        r"(?:проигнорируй|игнорируй(?:те)?|забудь(?:те)?|не\s+обращай(?:те)?\s+внимания\s+на)"
        r"(?:\s+\S+){0,3}\s+(?:инструкци\w*|указани\w*|правил\w*|промпт\w*)",
    ),
    (
        ("忽略", "无视", "忘记", "忘掉", "不要理会", "忽视", "無視"),
        r"(?:忽略|无视|忘记|忘掉|不要理会|忽视|無視)[^。.!！\n]{0,8}"
        r"(?:指令|指示|说明|規則|规则|提示|要求)",
    ),
    (("無視", "忘れ"), r"(?:指示|命令|ルール|プロンプト|指令)[^。.!！\n]{0,8}(?:無視|忘れ)"),
    (
        ("التعليمات", "الأوامر", "القواعد"),
        r"(?:تجاهل|انس)\s+(?:\S+\s+){0,2}(?:التعليمات|الأوامر|القواعد)",
    ),
]

# ---- look-alikes of the delimiters `<` and `>` ----------------------------------------------

# Signs read as `<` and `>`: their confusables in Unicode's list (UTS #39), the angle brackets
# and angle quotation marks drawn alike, and the small and full-width signs, which NFKC folds
# to `<` and `>` (the screen reads text NFKC-folded; the model reads it as sent). The text
# shown to the model has each of them escaped as `<` or `>` (`leadq.chain.preprocess`).
LESS_THAN_SIGNS = (
    "\u2039\u276e\u02c2\u02f1\U0001d236"  # angle quotation marks, arrowheads (confusables)
    "\u27e8\u3008\u2329\u276c\u2770\u29fc\u2991\u2993\u22d6"  # angle brackets, less-than with dot
    "\ufe64\uff1c"  # small and full-width less-than (NFKC: `<`)
)
GREATER_THAN_SIGNS = (
    "\u203a\u276f\u02c3\u02f2\U0001d237"
    "\u27e9\u3009\u232a\u276d\u2771\u29fd\u2992\u2994\u22d7"
    "\ufe65\uff1e"
)
# Letters among the confusables (Canadian syllabics PA and PO, runic KAUNA, Miao archaic ZZA):
# a tag drawn with them is flagged too, but they are text in their own scripts, so the model
# is shown them escaped as themselves (`\u1438`), never as they look nor as `<`.
LESS_THAN_LETTERS = "\u1438\u16b2"
GREATER_THAN_LETTERS = "\u1433\U00016f3f"
_SLASHES = "/\u2044\u2215\u29f8\u2571"  # solidus, fraction, division and big slashes, box diagonal
_LT = f"[<{LESS_THAN_SIGNS}{LESS_THAN_LETTERS}]"
_GT = f"[>{GREATER_THAN_SIGNS}{GREATER_THAN_LETTERS}]"
# Their triggers: the opening signs as the screen reads them (NFKC-folded: no full-width sign).
_LT_TRIGGERS = (
    "<",
    *(c for c in LESS_THAN_SIGNS + LESS_THAN_LETTERS if unicodedata.normalize("NFKC", c) == c),
)

# ---- fake role and system tags -------------------------------------------------------------

ROLE_TAG: list[tuple[tuple[str, ...], str]] = [
    (
        _LT_TRIGGERS,
        rf"{_LT}\s*[{_SLASHES}]?\s*(?:system|assistant|developer|user|instructions?|sys"
        rf"|lead[\s_-]?data|im_start|im_end)\s*{_GT}",
    ),
    (_LT_TRIGGERS, rf"{_LT}\|[a-z_]{{2,20}}\|{_GT}"),
    (("[",), r"\[/?inst\]"),
    (("[",), r"\[\s*(?:system|assistant|developer)\s*\]"),
    (_LT_TRIGGERS, rf"{_LT}{_LT}/?sys{_GT}{_GT}"),
    (
        ("##",),
        r"^[ \t]*#{2,}[ \t]*(?:system|assistant|developer)[ \t]*(?:prompt|message)?[ \t]*:?"
        r"[ \t]*$",
    ),
    (("##",), r"^[ \t]*#{2,}[ \t]*(?:new[ \t]+)?(?:instructions?|rules)[ \t]*:?[ \t]*$"),
    (("```",), r"```[ \t]*(?:system|assistant|developer|instructions?)\b"),
    (
        tuple(
            f"{role}{gap}{what}"
            for role in ("system", "developer")
            for gap in ("", " ")
            for what in ("prompt", "message", "instruction", "instructions", "override", "note")
        ),
        _written(
            r"^[ \t]*(?:system|developer)[ \t]*(?:prompt|message|instructions?|override|note)"
            r"[ \t]*:"
        ),
    ),
    (
        ("assistant", "system", "ai", "model"),
        _written(
            r"^[ \t]*(?:assistant|system|ai|model)[ \t]*:[ \t]*(?:sure|ok|okay|certainly"
            r"|understood|of course|absolutely|here|i will|i'll|you|ignore|new|from now)\b"
        ),
    ),
]
# Matched on the original text: upper-case role labels at a line start ("SYSTEM: ...").
CASED_LABELS = ("SYSTEM", "ASSISTANT", "DEVELOPER")
ROLE_LABEL_CASED = re.compile(r"^[ \t]*(?:SYSTEM|ASSISTANT|DEVELOPER)[ \t]*:", re.MULTILINE)

# ---- demands for a score or an action ------------------------------------------------------

_ONE = r"\b1[.,]0{1,2}\b(?![.,]?\d)"  # 1.0, 1,0, 1.00 (not 1,000)
_ONES = ("1.0", "1,0")
_HIGH_WORDS = ("perfect", "max", "maximum", "maximal", "highest", "top", "hot", "immediate")
_HIGH_TRIGGERS = (
    *_ONES,
    *("10/", "10 /", "100%", "100 %", "100/", "100 /", "percent"),
    *_HIGH_WORDS,
    *("full marks", "priority one"),
)
_HIGH = (
    rf"(?:{_ONE}|\b10\s*/\s*10\b|\b100\s*(?:%|/\s*100|percent)"
    rf"|\b{_any(_HIGH_WORDS)}\b|\bfull\s+marks\b|\bpriority\s+one\b)"
)
_TARGET = _any(
    (
        r"this\s+(?:lead|prospect|contact|company|account|person|record)",
        r"the\s+(?:lead|prospect|contact)",
        *("me", "us", "him", "her", "them", "it", r"every\s+lead", r"all\s+leads"),
        *(r"all\s+(?:the\s+)?scores", r"(?:each|every)\s+score"),
    )
)
_SCORE_NOUNS = (
    *("score", "scores", "rating", "ratings", "grade", "grades", "marks", "points"),
    *("priority", "evaluation"),
)
_BEST_SCORES = tuple(
    f"{best} {noun}"
    for best in ("perfect", "max", "maximum", "maximal", "highest", "top", "full", "best")
    for noun in _SCORE_NOUNS
)
_SET = tuple(
    f"set {the}{what}" for the in ("the ", "") for what in ("action", "score", "scores", "priority")
)
_ACTIONS = ("immediate_outreach", "qualified_nurture", "followup_research", "not_qualified")
_MAX_DE = (
    *("höchst", "höchste", "höchsten", "höchster", "maximal", "maximale", "punktzahl"),
    *("sofort", "höchstbewertung", "bestbewertung", "bestnote", "höchstnote"),
)
_MAX_FR = ("maximale", "maximum", "meilleure")
_MAX_ES_PT = (
    *("máxima", "máximo", "maxima", "maximo", "máximas", "máximos", "prioridad"),
    *("prioridade", "perfecta", "perfecto", "perfeita", "perfeito"),
)
_MAX_IT = ("massima", "massimo", "priorità")
_MAX_NL = ("maximaal", "maximale", "hoogste", "topprioriteit")

SCORE_DEMAND: list[tuple[tuple[str, ...], str]] = [
    # the answer's own field and action names: no person writes these in a lead
    (
        ("_", "overallscore", "fitscore", "budgetscore", "urgencyscore", "authorityscore"),
        r"\b(?:overall|fit|budget|urgency|authority)_?score\b",
    ),
    (
        ("_", "recommendedaction"),
        r"\b(?:recommended_?action|reasoning_for_action|suggested_messaging)\b",
    ),
    (("_",), rf"\b(?:{'|'.join(_ACTIONS)}|manual_review)\b"),
    (
        _HIGH_TRIGGERS,
        rf"\b(?:rate|score|grade|rank|mark|classify|label|flag|treat|categori[sz]e|prioriti[sz]e"
        rf"|tag|qualify|evaluate|assess)\s+{_TARGET}\b[^.\n]{{0,30}}?{_HIGH}",
    ),
    (
        _BEST_SCORES,
        rf"\b(?:give|assign|award|set|put|return|output|respond\s+with)\s+(?:{_TARGET}\s+)?"
        rf"(?:(?:a|an|the|all|every|each|its|their|my|our)\s+)*{_said(_BEST_SCORES)}\b",
    ),
    (
        _HIGH_TRIGGERS,
        rf"\b(?:give|assign|award|set|put)\s+(?:{_TARGET}\s+)?(?:(?:a|an|the|all|every|each)\s+)*"
        rf"{_any(_SCORE_NOUNS)}\s+(?:of|to|=|at)\s*{_HIGH}",
    ),
    (
        ("score", "scores", "rating", "ratings", "grade", "grades"),
        _written(rf"\b(?:score|rating|grade)s?\s*(?:of|=|:|to)\s*(?:{_ONE}|100\s*%|10\s*/\s*10\b)"),
    ),
    (
        (*_ONES, "10/", "10 /", "100%", "100 %"),
        rf"\b(?:give|assign|award)\s+{_TARGET}\s+(?:an?\s+)?(?:{_ONE}|10\s*/\s*10\b|100\s*%)",
    ),
    (_SET, _written(rf"\b{_said(_SET)}\s*(?:to\b|=)")),
    # de, fr, es, pt, it, nl
    (
        (*_ONES, "100%", "100 %", *_MAX_DE, "volle punktzahl"),
        r"\b(?:bewerte|bewerten\s+sie|gib|geben\s+sie|setze|setzen\s+sie|stufe|stufen\s+sie)\s+"
        r"(?:mich|uns|diesen\s+lead|diesem\s+lead|den\s+lead|die\s+bewertung|alle\s+werte)\b"
        rf"[^.\n]{{0,30}}?(?:{_ONE}|100\s*%|\b{_any(_MAX_DE)}\b|volle\s+punktzahl)",
    ),
    (
        (*_ONES, *_MAX_FR),
        r"\b(?:attribue[rz]?|donne[rz]?|mets|mettez|note[rz]?|classe[rz]?)\s+(?:à\s+)?"
        r"(?:ce\s+(?:lead|prospect|contact)|moi|nous|la\s+note)\b"
        rf"[^.\n]{{0,30}}?(?:{_ONE}|\b{_any(_MAX_FR)}\b)",
    ),
    (
        (*_ONES, "maximale"),
        r"\b(?:attribue[rz]?|donne[rz]?)\s+(?:\S+\s+){0,3}(?:note|score)\s+"
        rf"(?:maximale|de\s+{_ONE})",
    ),
    (
        (*_ONES, *_MAX_ES_PT),
        r"\b(?:califica|calificar|puntúa|puntua|asigna|asígnale|asignale|dale|dé|dê|atribua"
        r"|avalie|classifique|marque|clasifica|marca)\s+(?:a\s+)?(?:este|esta|me|nos|le|como)\b"
        rf"[^.\n]{{0,30}}?(?:{_ONE}|\b{_any(_MAX_ES_PT)}\b)",
    ),
    (
        (*_ONES, "máxima", "maxima"),
        r"\b(?:dê|atribua)\s+(?:\S+\s+){0,3}(?:pontuação|nota)\s+"
        rf"(?:máxima|maxima|de\s+{_ONE})",
    ),
    (
        (*_ONES, *_MAX_IT),
        r"\b(?:assegna|dai|valuta|classifica|segna)\s+(?:a\s+)?(?:questo|questa|mi|ci|un|il)\b"
        rf"[^.\n]{{0,30}}?(?:{_ONE}|\b{_any(_MAX_IT)}\b)",
    ),
    (
        (*_ONES, *_MAX_NL),
        r"\b(?:geef|beoordeel|markeer|zet)\s+(?:deze|mij|ons|de|een)\b"
        rf"[^.\n]{{0,30}}?(?:{_ONE}|\b{_any(_MAX_NL)}\b)",
    ),
    (
        ("toppriorität", "topbewertung", "höchstpriorität", "top priorität", "top bewertung"),
        r"\b(?:ein|eine|einen|als)\s+(?:top|höchst)[- ]?(?:priorität|bewertung)\b",
    ),
    (("topprioriteit",), r"\bdit\s+is\s+een\s+topprioriteit\b"),
    # ru, zh, ja
    (
        (*_ONES, "максим"),
        rf"(?:поставь|оцени|присвой|дай)\S*\s+[^.\n]{{0,30}}?(?:{_ONE}|максим)",
    ),
    (("1.0", "满分", "最高分"), r"(?:评为|评分|打|给)[^。.\n]{0,10}(?:1\.0|满分|最高分)"),
    (("最高評価", "満点"), r"(?:最高評価|満点)"),
]

# ---- asking for the prompt -----------------------------------------------------------------

_SECRET = ("hidden", "secret", "initial", "original", "internal", "full", "exact", "previous")
_ASKED = (
    "system prompt",
    *(f"{adj} {what}" for adj in _SECRET for what in ("system", "prompt", "instructions", "rules")),
)
PROMPT_LEAK: list[tuple[tuple[str, ...], str]] = [
    (
        _ASKED,
        r"\b(?:reveal|print|show|output|repeat|display|leak|dump|tell\s+me|share|echo"
        r"|write\s+out)\b[^.\n]{0,20}?\b(?:(?:your|the)\s+)?(?:system\s+prompt|(?:hidden|secret"
        r"|initial|original|internal|full|exact|previous)\s+(?:system\s+)?(?:prompt|instructions"
        r"|rules))\b",
    ),
    (
        ("your instructions", "your prompt", *_ASKED),
        r"\b(?:reveal|print|output|repeat|dump|leak|echo)\s+(?:back\s+)?your\s+(?:\w+\s+)?"
        r"(?:instructions|prompt)\b",
    ),
    (
        (
            "your instructions",
            "original instructions",
            "initial instructions",
            "system instructions",
        ),
        r"\bwhat\s+(?:are|were)\s+your\s+(?:original\s+|initial\s+|system\s+)?instructions\b",
    ),
]

# ---- markup aimed at whoever renders the text ----------------------------------------------

MARKUP: list[tuple[tuple[str, ...], str]] = [
    (("<",), r"<\s*(?:script|iframe|object|embed)\b"),
    (("javascript",), _written(r"\bjavascript\s*:")),
    (
        ("onerror", "onload", "onclick", "onmouseover"),
        _written(r"\bon(?:error|load|click|mouseover)\s*="),
    ),
    (("![",), r"!\[[^\]\n]*\]\(\s*https?://"),  # a markdown image is fetched on render
]

RULES: list[Rule] = [
    (signal, triggers, regex)
    for signal, rules in (
        ("override", OVERRIDE),
        ("role_tag", ROLE_TAG),
        ("score_demand", SCORE_DEMAND),
        ("prompt_leak", PROMPT_LEAK),
        ("markup", MARKUP),
    )
    for triggers, regex in rules
]

# Letters spaced apart ("i g n o r e   a l l ..."), read with the spaces removed.
SQUASHED = re.compile(
    r"(?:ignore|disregard|forget|override|bypass)(?:all|any|the|your|previous|prior|above"
    r"|earlier)*(?:instructions?|rules|prompt|guidelines)|systemprompt|recommendedaction"
    r"|overallscore|immediateoutreach|developermode"
)
