"""Words the recogniser should expect: the event's own title and topics, then the trade's vocabulary.

Whisper base confuses domain words with common homophones (基坑 → 即坑, 沉降 → 成像, 施工 → 试工);
giving them as `hotwords` (a prompt prefixed to every 30-second window) biases decoding towards them.
The prompt is bounded (Whisper allows half its 448-token context), so the event's own words come first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# DOMAIN.md: the two kinds of event the bureau runs, and the words they are made of.
GLOSSARY_ZH = (
    "基坑 开挖 支护 盾构 隧道 降水 地下水 沉降 沉降监测 监测点 预警值 轨道交通 地铁 保护区 管线 邻近建筑 "
    "应急处置 注浆 围护结构 施工单位 建设单位 监理 勘察 设计 检测 质量通病 渗漏 开裂 空鼓 防水 装修 "
    "预看房 住宅工程 验收 整改"
)
GLOSSARY_EN = (
    "foundation pit, excavation, retaining wall, shield tunnelling, dewatering, groundwater, settlement "
    "monitoring, metro protection, pipelines, adjacent buildings, grouting, emergency response, contractor, "
    "supervision engineer, waterproofing, leaks, cracks, hollow plaster, fit-out, pre-handover inspection"
)
# Characters of prompt text kept per language. Whisper allows far more (224 tokens), but measured
# here a long prompt makes it merge sentences and end windows early, dropping speech: a prompt
# names the event's words and the commonest trade terms, no more.
MAX_PROMPT_CHARS = 80


# The organiser's glossary (PUT /api/v1/events/{slug}/glossary): per language, this many terms of
# this many characters at most; they go before the built-in glossary, after the title and topics.
MAX_EVENT_TERMS = 40
MAX_TERM_CHARS = 40


def clean_terms(terms: Sequence[str]) -> list[str]:
    """Printable, trimmed, unique, in the organiser's order; separators a prompt uses are removed."""
    out: list[str] = []
    for term in terms:
        term = " ".join("".join(c for c in str(term) if c.isprintable()).replace(",", " ").split())
        if term and term not in out:
            out.append(term[:MAX_TERM_CHARS])
    return out[:MAX_EVENT_TERMS]


def hotwords(
    title_zh: str, title_en: str, topics: Iterable[str], glossary: Mapping[str, Sequence[str]] | None = None
) -> dict[str, str]:
    """A prompt per language: the event's own words first, then the glossary, cut to the budget.

    Each 30-second window gets the prompt of the language detected in it: Chinese words in an
    English window only tempt Whisper to invent list items, and the reverse."""
    topics = [t.strip() for t in topics if t and t.strip()]
    own = glossary or {}
    zh_terms = " ".join(clean_terms(own.get("zh", [])))
    en_terms = ", ".join(clean_terms(own.get("en", [])))
    zh = " ".join(p for p in (title_zh.strip(), " ".join(topics), zh_terms, GLOSSARY_ZH) if p)
    en = ", ".join(p for p in (title_en.strip(), en_terms, GLOSSARY_EN) if p)
    return {"zh": _trim(zh), "en": _trim(en)}


def _trim(text: str) -> str:
    text = "".join(c for c in text if c.isprintable())
    if len(text) <= MAX_PROMPT_CHARS:
        return text
    return text[:MAX_PROMPT_CHARS].rsplit(" ", 1)[0]


def vocabulary(prompts: Mapping[str, str]) -> list[str]:
    """Every text a decode could echo: the prompts as sent and the whole built-in glossary (a prompt
    is cut to its budget, but Whisper has been seen writing glossary words from past the cut)."""
    return [*(p for p in prompts.values() if p), GLOSSARY_ZH, GLOSSARY_EN]
