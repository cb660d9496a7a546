"""The one decoder every CSV goes through (ingest/encoding.py): issue 9 point 5
(code pages decoded and named), issue 13 point 8 (UTF-32 and binary refused),
SECURITY.md case 13 (BOM-marked and cp1252 text unchanged). Inputs are built
here; the texts are the project's own questionnaire-like sentences."""
from __future__ import annotations

import io
import random

import pytest

from ingest import read_questionnaire
from ingest.encoding import decode_text, encoding_label
from ingest.errors import UnsupportedFormat

QUESTIONS = {
    "fr": ["Chiffrez-vous les données au repos ?", "Avez-vous désigné un délégué à la protection des données ?",
           "Décrivez votre procédure de gestion des incidents.", "Les accès sont-ils révisés régulièrement ?"],
    "de": ["Werden Daten im Ruhezustand verschlüsselt?", "Gibt es einen Datenschutzbeauftragten?",
           "Wie oft werden Zugriffsrechte überprüft?", "Führen Sie Schulungen für Mitarbeiter durch?"],
    "es": ["¿Cifran los datos en reposo?", "¿Existe un responsable de protección de datos?",
           "Describa su proceso de gestión de incidentes.", "¿Con qué frecuencia se revisan los accesos?"],
    "pl": ["Czy dane są szyfrowane w spoczynku?", "Czy wyznaczono inspektora ochrony danych?",
           "Opisz proces zarządzania incydentami.", "Jak często przeglądane są uprawnienia dostępu?"],
    "ru": ["Шифруются ли данные при хранении?", "Назначен ли ответственный за защиту данных?",
           "Опишите процесс управления инцидентами.", "Как часто пересматриваются права доступа?"],
    "ja": ["保存データは暗号化されていますか？", "データ保護責任者は任命されていますか？",
           "インシデント管理プロセスを説明してください。", "アクセス権はどのくらいの頻度で見直されますか？"],
    "zh": ["数据在存储时是否加密？", "是否任命了数据保护官？", "请描述您的事件管理流程。", "多久审查一次访问权限？"],
}


def questionnaire_csv(lang: str) -> str:
    return "ID,Question,Answer\n" + "".join(f"Q-{i},{q},\n" for i, q in enumerate(QUESTIONS[lang], 1))


@pytest.mark.parametrize("lang, encoding, label", [
    ("fr", "cp1252", "Windows-1252"), ("de", "cp1252", "Windows-1252"), ("es", "cp1252", "Windows-1252"),
    ("pl", "cp1250", "Windows-1250"), ("ru", "cp1251", "Windows-1251"), ("ja", "shift_jis", "Shift-JIS"),
    ("zh", "gb18030", "GB18030"),
])
def test_code_page_files_are_decoded_and_the_encoding_is_named(lang, encoding, label):
    """A cp1251 or Shift-JIS file was decoded as cp1252 with no warning."""
    result = read_questionnaire(io.BytesIO(questionnaire_csv(lang).encode(encoding)), "q.csv")
    assert [q.text for q in result.questions] == QUESTIONS[lang]
    named = [w for w in result.warnings if "not in UTF-8" in w]
    assert len(named) == 1 and label in named[0]


@pytest.mark.parametrize("data", [
    questionnaire_csv("fr").encode("utf-8"),
    b"\xef\xbb\xbf" + questionnaire_csv("ja").encode("utf-8"),
    questionnaire_csv("ru").encode("utf-16"),
    b"\xfe\xff" + questionnaire_csv("zh").encode("utf-16-be"),
])
def test_utf8_and_marked_unicode_need_no_warning(data):
    result = read_questionnaire(io.BytesIO(data), "q.csv")
    assert len(result.questions) == 4
    assert not any("UTF-8" in w for w in result.warnings)


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le", "utf-32-be"])
def test_utf32_is_refused_by_name(encoding):
    data = questionnaire_csv("fr").encode(encoding)
    with pytest.raises(UnsupportedFormat, match="UTF-32"):
        read_questionnaire(io.BytesIO(data), "q.csv")
    with pytest.raises(UnsupportedFormat, match="UTF-32"):
        decode_text(data)


def _binary(seed: int, size: int = 4000, with_nul: bool = False) -> bytes:
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(size))
    return data if with_nul else data.replace(b"\x00", b"\x01")


@pytest.mark.parametrize("data", [
    _binary(1), _binary(2, 300), b"ID,Question,Answer\n" + _binary(3),
    bytes(range(1, 32)) * 40, b"\x1f\x8b\x08\x08" + _binary(4)[4:],  # control bytes; a gzip header
])
def test_binary_data_without_nul_bytes_is_refused_not_read_as_questions(data):
    """Binary data with no NUL in its first bytes was read as cp1252 text."""
    with pytest.raises(UnsupportedFormat, match="binary data"):
        read_questionnaire(io.BytesIO(data), "data.csv")


def test_a_few_control_characters_are_text_not_binary():
    data = "ID,Question,Answer\nQ-1,Bell\x07 question?,\nQ-2,Plain question?,\n".encode("cp1252")
    assert decode_text(data).text.startswith("ID,Question")


def test_cp1252_with_a_stray_bom_keeps_the_bom_and_is_named():
    data = b"\xef\xbb\xbf" + questionnaire_csv("fr").encode("cp1252")
    decoded = decode_text(data)
    assert decoded.bom == b"\xef\xbb\xbf" and decoded.encoding == "cp1252" and decoded.warning
    assert decoded.text == questionnaire_csv("fr")


def test_encoding_labels_are_names_people_know():
    assert encoding_label("cp1251") == "Windows-1251 (Cyrillic)"
    assert encoding_label("shift_jis") == "Shift-JIS (Japanese)"
    assert encoding_label("utf-16-le") == "UTF-16 (little-endian)"
