"""The words aimsq reads a questionnaire by, in one place: what a header
cell names (question, answer, comment, reference, section, or a column for
the customer's own evaluators), Yes / No / N/A spellings, question and
imperative openings, and the labels of guidance rows.

Spreadsheets and CSV (`ingest.layout`) match `header_role`'s patterns
anywhere in a header, in English, Spanish, French, German, Portuguese,
Italian and Dutch. Word tables (`ingest.docx_tables`) first match the whole
header against the English names below (`QUESTION_HEADERS`, ...), which
decide a few headers differently ("Description" is the question column,
"Status" the answer column), then fall back to `header_role`. Word
paragraphs decide whether a text prompts for an answer with the English
`PROMPT_INTERROGATIVES` / `PROMPT_IMPERATIVES`.
"""
from __future__ import annotations

import re
import unicodedata

# ---- header roles and Yes/No spellings (spreadsheets, CSV, and Word tables after their own names) ----

QUESTION_WORDS = (
    # English
    "do", "does", "did", "is", "are", "was", "were", "can", "could", "will", "would", "shall", "should",
    "have", "has", "had", "may", "might", "must", "how", "what", "which", "when", "where", "who", "whom",
    "whose", "why", "if", "in what", "to what",
    # Spanish / Portuguese / French / German / Italian / Dutch
    "qué", "que", "cuál", "cuáles", "cómo", "cuándo", "dónde", "quién", "existe", "existen", "tiene",
    "dispone", "realiza", "se", "el proveedor", "la solución", "está", "están",
    "qual", "quais", "como", "quando", "onde", "possui", "existe",
    "est-ce", "avez-vous", "disposez-vous", "quel", "quelle", "quels", "quelles", "comment", "pouvez-vous",
    "gibt es", "haben sie", "verfügen sie", "wie", "welche", "wer", "wann", "wo", "ist", "sind", "werden",
    "esiste", "avete", "come", "quale", "heeft", "zijn", "hoe", "welke",
)
IMPERATIVES = (
    "describe", "provide", "list", "explain", "indicate", "specify", "state", "confirm", "identify",
    "outline", "detail", "attach", "please", "upload", "summarize", "summarise", "share", "enter",
    "select", "include", "give", "name", "define", "document", "submit", "supply", "demonstrate",
    "use this", "tell us", "briefly", "how many", "how often", "how long",
    "describa", "indique", "proporcione", "especifique", "detalle", "explique", "adjunte", "aporte",
    "enumere", "facilite", "informe", "descreva", "indique", "forneça", "décrivez", "indiquez",
    "fournissez", "précisez", "expliquez", "joignez", "beschreiben", "nennen", "erläutern", "geben",
    "descrivere", "indicare", "fornire", "beschrijf", "geef",
)
REQUIREMENT = re.compile(
    r"\b(must|shall|should|is required to|are required to|debe|deberá|deben|deberán|doit|doivent|muss|müssen|deve|devono)\b",
    re.IGNORECASE,
)
FIRST_WORDS = re.compile(r"^[¿¡\"'“(\[]*([\w'’\-]+(?:\s+[\w'’\-]+)?)", re.UNICODE)

# Header keywords per role, matched on a normalised header text.
_ROLE_PATTERNS: dict[str, list[str]] = {
    "exclude": [
        r"\banalyst", r"\breviewer", r"\bassessor", r"\bauditor", r"\binternal use", r"\bscor(e|es|ing)\b",
        r"\bweight", r"\bguidance\b", r"\breason\b", r"\bfollow up", r"\bfor (the )?(institution|customer|client|buyer) use",
        r"\brisk (rating|level)\b", r"\bevaluat", r"\bexpected\b", r"\bexamples?\b", r"\bmapping\b", r"\bcrosswalk",
        r"\boverride\b", r"\bofficial use\b", r"\bpuntuaci", r"\bponderaci", r"\bevaluaci",
        r"\breserved for\b", r"\bréservé", r"\breservado", r"\bévaluat", r"\bavalia[çc]", r"\bbewertung",
        r"\bprüfer", r"\bvalutazion", r"\bauditeur", r"\bevaluador",
    ],
    "ref": [
        r"\bid\b", r"\bids\b", r"\bref\b", r"\bref id\b", r"\breference\b", r"^#$", r"^no\.?$", r"^nr\.?$", r"^n[º°o]\.?$",
        r"^num(ber)?\.?$", r"\bq ?#", r"\bques(tion)? ?(num|no|nr)\b", r"^s\.? ?no\.?$", r"^item( no\.?| number| #)?$", r"\bnumero\b", r"\bnúmero\b",
        r"\bnuméro\b", r"\bcode\b", r"\bcódigo\b", r"\bidentifier\b", r"\bcontrol (id|number|no)\b",
    ],
    "question": [
        r"\bquestions?\b", r"\bpreguntas?\b", r"\bquestionn?aire", r"\bfragen?\b", r"\bperguntas?\b",
        r"\brequirements?\b", r"\brequisitos?\b", r"\bexigences?\b", r"\banforderung", r"\bquery\b", r"\bcriteria\b",
        r"\bcriterion\b", r"\bcontrol (question|statement|requirement)\b", r"\bdomanda\b", r"\bvraag\b", r"\bprompt\b",
    ],
    "answer": [
        r"\banswers?\b", r"\brespon(se|ses|d)\b", r"\brespuestas?\b", r"\bréponses?\b", r"\breponses?\b", r"\bantwort",
        r"\brespostas?\b", r"\breply\b", r"\byes ?/ ?no\b", r"\by ?/ ?n\b", r"\bsí ?/ ?no\b", r"\bsi ?/ ?no\b",
        r"\boui ?/ ?non\b", r"\bja ?/ ?nein\b", r"\brisposta\b", r"\bantwoord\b", r"\bvendor (input|entry)\b",
    ],
    "comment": [
        r"\bcomments?\b", r"\bexplanations?\b", r"\bexplain\b", r"\bjustifications?\b", r"\bnotes?\b", r"\bremarks?\b",
        r"\bdetails?\b", r"\badditional (info|information|details|context)\b", r"\bevidence\b", r"\bsupporting\b",
        r"\bimplementation\b", r"\bdescribe\b", r"\bcomentarios?\b", r"\bobservaci", r"\bjustificaci",
        r"\bcommentaires?\b", r"\bremarques?\b", r"\bbemerkung", r"\bkommentar", r"\bevidencias?\b", r"\belaborat",
        r"\bclarification", r"\bcontext\b", r"\bnarrative\b", r"\bcommenti\b", r"\bopmerking",
    ],
    "section": [
        r"\bsections?\b", r"\bdomains?\b", r"\bcategor(y|ies)\b", r"\btopics?\b", r"\bchapter\b", r"\bdominio\b",
        r"\bcategor[íi]as?\b", r"\bsecci[óo]n\b", r"\bthemes?\b", r"\bfamily\b", r"\bdomaine\b", r"\bkategorie\b",
        r"\bcapítulo\b", r"\bárea\b", r"\barea\b",
    ],
}
_ROLE_RES = {role: re.compile("|".join(p), re.IGNORECASE) for role, p in _ROLE_PATTERNS.items()}
_ROLE_ORDER = ("exclude", "ref", "question", "answer", "comment", "section")

YES_NO_FAMILIES: dict[str, tuple[str, ...]] = {
    "yes": ("yes", "y", "si", "sí", "oui", "ja", "sim", "true", "compliant", "fully compliant", "implemented", "in place"),
    "no": ("no", "n", "non", "nein", "não", "nao", "false", "not compliant", "non compliant", "non-compliant", "not implemented"),
    "n/a": ("n/a", "na", "n.a.", "n.a", "not applicable", "no aplica", "n/d", "non applicable", "nicht zutreffend",
            "não aplicável", "nao aplicavel", "sans objet", "not relevant", "none"),
    "partial": ("partial", "partially", "partly", "parcial", "parcialmente", "partiel", "partiellement", "teilweise",
                "partially compliant", "partially implemented", "in progress"),
}
_ENUMERATOR = re.compile(r"^\s*(?:\(?[0-9a-z]{1,2}[).:\-]|[-•*])\s+", re.IGNORECASE)


def norm(text: str) -> str:
    """Lower-case, accents kept, whitespace and underscores collapsed."""
    return " ".join(text.replace("_", " ").replace("\u00a0", " ").split()).lower()


# "Name of the project", "List of sub-processors", "Details of the DPO": a form label, not an imperative
_NOUN_LABEL = re.compile(r"^[\w'’\-]+\s+(of|for|de|du|des|der|von|do|da|del)\b", re.IGNORECASE)


def question_score(text: str) -> int:
    """0..4: how much a cell's text reads like a question or a requirement."""
    t = text.strip()
    if len(t) < 3:
        return 0
    score = 0
    if "?" in t:
        score += 3
    low = t.lower().lstrip("¿¡\"'“([ ")
    first = FIRST_WORDS.match(low)
    if first:
        words = first.group(1)
        one = words.split()[0]
        if one in QUESTION_WORDS or words in QUESTION_WORDS:
            score += 2 if "?" in t or len(t) > 25 else 1
        elif (one in IMPERATIVES or words in IMPERATIVES) and not _NOUN_LABEL.match(low):
            score += 2
    if score == 0 and len(t) > 40 and REQUIREMENT.search(t):
        score += 2
    if len(t.split()) >= 4:
        score += 1
    return min(score, 4)


def header_role(text: str) -> str | None:
    """The column role a header cell names, or None."""
    t = norm(text)
    if not t or len(t) > 80 or "?" in t:
        return None
    for role in _ROLE_ORDER:
        if _ROLE_RES[role].search(t):
            if role == "ref" and _ROLE_RES["question"].search(t) and not re.search(r"\b(id|ref|no|number|#)\b", t):
                continue
            return role
    return None


def short_answer_family(value: str | None) -> str | None:
    """'yes' | 'no' | 'n/a' | 'partial' for a Yes/No-like value (any listed language), else None."""
    if not value:
        return None
    v = norm(_ENUMERATOR.sub("", value)).strip(" .!")
    v = unicodedata.normalize("NFC", v)
    for family, words in YES_NO_FAMILIES.items():
        if v in words:
            return family
    for family, words in YES_NO_FAMILIES.items():
        for w in words:
            if len(w) > 1 and (v.startswith(w + " ") or v.startswith(w + ",") or v.startswith(w + ";")
                               or v.startswith(w + " -") or v.startswith(w + ":")):
                return family
    return None


def is_yes_no_options(options: list[str] | None) -> bool:
    """Options that are all Yes/No/N/A/Partial spellings, including Yes and No."""
    if not options:
        return False
    families = [short_answer_family(o) for o in options]
    return None not in families and "yes" in families and "no" in families


# Rows that explain or grade the question above them open with a label like these.
GUIDANCE_LABEL = re.compile(
    r"^[\s*\-•]*(quality criteria|criteria|criterion|success criteria|acceptance criteria|guidance|guide|hints?|tips?|"
    r"supplemental guidance|implementation guidance|assessment guidance|discussion|rationale|related controls|"
    r"notes?|examples?|e\.g\.|scoring|score|rating|maturity criteria|evidence( required| expected)?|expected evidence|"
    r"criterios?|gu[íi]a|orientaci[óo]n|nota|ejemplos?|puntuaci[óo]n|evidencias?( requeridas?)?|"
    r"crit[èe]res?|conseils?|remarques?|exemples?|notation|hinweise?|beispiele?|kriterien|bewertung|"
    r"crit[ée]rios?|orienta[çc][ãa]o|exemplos?)\s*[:\-–\n]",
    re.IGNORECASE,
)


# A cell that only says the row is guidance (a label column beside the text)
GUIDANCE_CELL = re.compile(
    r"^\s*(quality criteria|criteria|success criteria|acceptance criteria|maturity criteria|guidance|scoring guidance|"
    r"criterios?( de calidad)?|gu[íi]a|crit[èe]res?( de qualit[ée])?|kriterien|qualit[äa]tskriterien|"
    r"crit[ée]rios?( de qualidade)?)\s*:?\s*$",
    re.IGNORECASE,
)


def asks(text: str) -> bool:
    """The text asks something: a question mark, or an interrogative or imperative opening."""
    if "?" in text:
        return True
    low = text.strip().lower().lstrip("¿¡\"'“([ ")
    first = FIRST_WORDS.match(low)
    if not first:
        return False
    words = first.group(1)
    one = words.split()[0]
    return one in QUESTION_WORDS or words in QUESTION_WORDS or one in IMPERATIVES or words in IMPERATIVES


# ---- Word tables and paragraphs ---------------------------------------------------------

PROMPT_INTERROGATIVES = {
    "do", "does", "did", "is", "are", "was", "were", "has", "have", "had", "can", "could", "will",
    "would", "should", "shall", "may", "might", "must", "what", "which", "who", "whom", "whose",
    "when", "where", "why", "how", "please",
}
PROMPT_IMPERATIVES = {
    "describe", "explain", "provide", "list", "identify", "consider", "outline", "detail", "specify",
    "state", "indicate", "confirm", "summarise", "summarize", "give", "include", "document", "attach",
    "enter", "insert", "select", "submit", "share", "define", "justify", "clarify", "elaborate",
    "demonstrate", "type", "add", "fill", "write", "choose", "note", "supply", "upload", "name",
}
NOT_QUESTION_HEADS = {"note", "notes", "example", "for", "see", "source", "tip", "warning"}

QUESTION_HEADERS = re.compile(
    r"^(?:questions?|question text|questionnaire|requirements?|requirement text|controls?|control (?:question|"
    r"description|requirement|text)|description|items?|query|queries|criteria|criterion|"
    r"(?:security|assessment|compliance|vendor|supplier|due diligence) questions?|request|statement)$"
)
REF_HEADERS = re.compile(
    r"^(?:#|no|nr|num|number|id|ref|reference|item (?:no|#|number)|"
    r"(?:question|questions|q|control|requirement|req|criteria) ?(?:no|nr|#|number|id|ref))$"
)
SECTION_HEADERS = re.compile(r"^(?:topic|section|category|domain|area|group|theme|chapter|control (?:domain|family)|family)$")
ANSWER_HEADERS = re.compile(
    r"^(?:(?:your |vendor |supplier |provider |company |bidder )?(?:answer|answers|response|responses|reply)"
    r"(?: \(.*\))?|(?:yes ?/ ?no|y ?/ ?n)(?: ?/ ?n ?/? ?a)?|status|compliant\??|compliance|implemented\??|"
    r"implementation status|selection|choice)$"
)
COMMENT_HEADERS = re.compile(
    r"^(?:comments?|remarks?|explanation|justification|details?|evidence|supporting evidence|"
    r"additional (?:information|comments|details)|(?:vendor |supplier )?comments?(?: ?/ ?evidence)?|"
    r"notes?|narrative|description of (?:implementation|control)|implementation details?)$"
)
WEAK_COMMENT_HEADERS = {"note", "notes", "details", "detail"}  # often hold guidance: only when empty
OPTION_WORDS = {
    "yes": "yes", "no": "no", "n/a": "na", "na": "na", "n.a.": "na", "not applicable": "na", "y": "yes",
    "n": "no", "partial": "partial", "partially": "partial", "in progress": "partial", "true": "yes",
    "false": "no", "implemented": "implemented", "planned": "planned", "not implemented": "no",
    "compliant": "yes", "non-compliant": "no", "not compliant": "no", "partially compliant": "partial",
    "unknown": "unknown", "don't know": "unknown", "in place": "yes", "not in place": "no",
}
YES_NO_NA = {"yes", "no", "na"}
COMMENT_LABEL = re.compile(
    r"^(?:comments?|remarks?|notes?|explanation|details?|justification|if (?:no|yes|not)[^:]{0,40})\s*:?$", re.I
)
ANSWER_LABEL = re.compile(r"^\s*((?:your |vendor |supplier )?(?:answer|response|reply))\s*[:：\-–]\s*(.*)$", re.I | re.S)
YES_NO_HINT = re.compile(r"\b(yes)\s*/\s*(no)\b(?:\s*/\s*(n/?a|not applicable))?", re.I)


# ---- guidance in control-implementation templates (ingest.docx_controls) ----------------

CONTROL_GUIDANCE_WORDS = {"guidance", "discussion", "supplemental", "note", "notes", "tip", "tips", "example", "examples",
                   "instruction", "instructions", "references"}
CONTROL_GUIDANCE_PHRASES = re.compile(r"\brelated controls?\b|\bassessment objectives?\b|^(?:examine|interview|test)$", re.I)
