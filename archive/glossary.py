"""Words the recogniser should expect: the event's own title and topics, then the trade's vocabulary.

Whisper base confuses domain words with common homophones (基坑 → 即坑, 沉降 → 成像, 施工 → 试工);
giving them as `hotwords` (a prompt prefixed to every 30-second window) biases decoding towards them.
The prompt is bounded (Whisper allows half its 448-token context), so the event's own words come first.
"""

from __future__ import annotations

from collections.abc import Iterable

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


def hotwords(title_zh: str, title_en: str, topics: Iterable[str]) -> dict[str, str]:
    """A prompt per language: the event's own words first, then the glossary, cut to the budget.

    Each 30-second window gets the prompt of the language detected in it: Chinese words in an
    English window only tempt Whisper to invent list items, and the reverse."""
    topics = [t.strip() for t in topics if t and t.strip()]
    zh = " ".join(p for p in (title_zh.strip(), " ".join(topics), GLOSSARY_ZH) if p)
    en = ", ".join(p for p in (title_en.strip(), GLOSSARY_EN) if p)
    return {"zh": _trim(zh), "en": _trim(en)}


def _trim(text: str) -> str:
    text = "".join(c for c in text if c.isprintable())
    if len(text) <= MAX_PROMPT_CHARS:
        return text
    return text[:MAX_PROMPT_CHARS].rsplit(" ", 1)[0]
