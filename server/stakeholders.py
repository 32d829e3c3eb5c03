"""Stakeholder groups from DOMAIN.md: stable codes stored, labels shown in the reader's language."""

from __future__ import annotations

STAKEHOLDERS: dict[str, dict[str, str]] = {
    "owner": {"zh-CN": "建设单位", "en": "Owner / developer"},
    "survey": {"zh-CN": "勘察单位", "en": "Geotechnical survey"},
    "design": {"zh-CN": "设计单位", "en": "Design institute"},
    "supervision": {"zh-CN": "监理单位", "en": "Site supervision"},
    "construction": {"zh-CN": "施工单位", "en": "Contractor"},
    "testing": {"zh-CN": "检测机构", "en": "Testing agency"},
    "authority": {"zh-CN": "主管部门 / 质量监督机构", "en": "Bureau / quality supervision station"},
    "association": {"zh-CN": "行业协会", "en": "Industry association"},
    "public": {"zh-CN": "公众 / 业主", "en": "Member of the public / home buyer"},
}
