"""Names as people write them: industries, towns, departments and enterprises in a 明细表.

Each look-up answers a Match: the catalogue entry, how it was found (exact, alias, umbrella,
containment, inferred from the enterprise's name or address, a holding value) and a Chinese
note the row report prints.  What cannot be resolved carries the closest catalogue entries as
a suggestion ("是否为 …？").  The rules are config (config/reference/aliases.yaml) and are
described in docs/intake.md.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from hazardloop.config.intake_rules import aliases
from hazardloop.models.tables import Department, Enterprise, Industry, Region

# how a cell was matched; the row report says it in these words
HOW = {
    "exact": "目录名称", "alias": "常用名", "umbrella": "统称", "umbrella_inferred": "统称，按企业名称细分",
    "contains": "包含关系", "name": "企业名称中的镇街区", "address": "企业地址中的镇街区",
    "holding": "待确认", "short_name": "企业简称",
}
# the 上报单位 is a department when it names one, or looks like one
DEPARTMENT_WORDS = ("局", "委员会", "大队", "支队", "办公室", "安委办", "中心")


def norm(value: Any) -> str:
    """NFKC (full-width → half-width), no whitespace or '*' markers."""
    return re.sub(r"[\s*＊]+", "", unicodedata.normalize("NFKC", str(value or "")))


@dataclass
class Match:
    code: str | None
    name: str | None = None
    how: str = "exact"
    suggestions: list[str] = field(default_factory=list)
    follow_up: bool = False  # a holding value: listed by `ledger pending` until the office resolves it

    @property
    def ok(self) -> bool:
        return self.code is not None

    def note(self, raw: str) -> str:
        """“危险化学品” → 化工和危险化学品（常用名）; empty for an exact match."""
        if not self.ok or self.how == "exact":
            return ""
        return f"“{raw}” → {self.name}（{HOW.get(self.how, self.how)}）" if raw else f"→ {self.name}（{HOW.get(self.how, self.how)}）"

    def suggestion(self) -> str:
        return f"是否为 {'、'.join(self.suggestions)}？" if self.suggestions else "目录中没有相近的条目"


def _closest(word: str, names: list[str], n: int = 3) -> list[str]:
    """The catalogue names nearest to a word: difflib's ratio, plus shared characters (Chinese
    names share few exact subsequences, so a common character counts too)."""
    w = norm(word)
    if not w:
        return []
    scored = []
    for name in names:
        ratio = difflib.SequenceMatcher(None, w, norm(name)).ratio()
        common = len(set(w) & set(norm(name))) / max(len(set(w)), 1)
        score = max(ratio, 0.8 * common)
        if score >= 0.3:
            scored.append((score, name))
    scored.sort(key=lambda t: (-t[0], t[1]))
    out: list[str] = []
    for _, name in scored:
        if name not in out:
            out.append(name)
    return out[:n]


class Catalogue:
    """The reference tables and the alias config, read once per import."""

    def __init__(self, session: Session) -> None:
        cfg = aliases()
        self.cfg = cfg
        self._cores: dict[str, str] = {}
        self._prefixes: tuple[str, ...] | None = None
        self._suffixes: tuple[str, ...] = ()
        self.industries = {i.code: i.name for i in session.exec(select(Industry)).all()}
        self.regions = {r.code: r.name for r in session.exec(select(Region)).all()}
        self.departments = {d.code: d.name for d in session.exec(select(Department)).all()}
        self.holding_region = dict(cfg["holding_region"])
        self.holding_industries = {spec["holding"]["code"]: dict(spec["holding"]) for spec in cfg["umbrellas"].values()}
        # the holding entries are real catalogue rows once created (import creates them when needed)
        self.real_industries = {c: n for c, n in self.industries.items() if c not in self.holding_industries}
        self.real_regions = {c: n for c, n in self.regions.items() if c != self.holding_region["code"]}
        # name index: normalised word -> (code, how)
        self.industry_index: dict[str, tuple[str, str]] = {}
        for code, name in self.real_industries.items():
            self.industry_index[norm(code).lower()] = (code, "exact")
            self.industry_index[norm(name)] = (code, "exact")
        for code, names in cfg["industries"].items():
            if code in self.real_industries:
                for n in names:
                    self.industry_index.setdefault(norm(n), (code, "alias"))
        self.umbrella_index: dict[str, str] = {}
        for term, spec in cfg["umbrellas"].items():
            for n in (term, *spec["aliases"]):
                self.umbrella_index[norm(n)] = term
        self.region_index: dict[str, tuple[str, str]] = {}
        for code, name in self.real_regions.items():
            self.region_index[norm(code).lower()] = (code, "exact")
            self.region_index[norm(name)] = (code, "exact")
        for code, names in cfg["regions"].items():
            if code in self.real_regions:
                for n in names:
                    self.region_index.setdefault(norm(n), (code, "alias"))
        # short forms for inference from free text: 石横镇 → 石横, 新城街道 → 新城, 高新区 → 高新
        self.region_words: list[tuple[str, str]] = []
        for code, name in self.real_regions.items():
            words = {norm(name)} | {norm(n) for n in cfg["regions"].get(code, [])}
            short = re.sub(r"(街道办事处|街道|办事处|镇|乡|区)$", "", norm(name))
            if len(short) >= 2:
                words.add(short)
            self.region_words += [(w, code) for w in words if len(w) >= 2]
        self.region_words.sort(key=lambda t: -len(t[0]))
        self.department_index: dict[str, str] = {}
        for code, name in self.departments.items():
            self.department_index[norm(name)] = code
            self.department_index[norm(name).removeprefix("市")] = code
        for code, names in cfg["departments"].items():
            if code in self.departments:
                for n in names:
                    self.department_index.setdefault(norm(n), code)
                    self.department_index.setdefault(norm(n).removeprefix("市"), code)

    # --- industries ---------------------------------------------------------------------

    def industry(self, raw: Any, enterprise_name: str = "") -> Match:
        word = norm(raw)
        if not word:
            return Match(None, suggestions=[])
        hit = self.industry_index.get(word) or self.industry_index.get(word.lower())
        if hit:
            return Match(hit[0], self.industries[hit[0]], hit[1])
        term = self.umbrella_index.get(word) or self.umbrella_index.get(re.sub(r"(行业|企业|领域)$", "", word))
        if term is None:  # containment: 工贸企业（机械） or 冶金工贸
            term = next((t for w, t in sorted(self.umbrella_index.items(), key=lambda kv: -len(kv[0]))
                         if len(w) >= 2 and w in word and not self._industry_contained(word)), None)
        if term is not None:
            return self._umbrella(term, enterprise_name)
        code = self._industry_contained(word)
        if code:
            return Match(code, self.industries[code], "contains")
        names = list(self.real_industries.values())
        extra = [n for n in self.cfg["umbrellas"]]
        return Match(None, suggestions=_closest(word, names + extra))

    def _industry_contained(self, word: str) -> str | None:
        """The one catalogue entry whose name or common name the cell contains (危险化学品经营单位),
        or which contains the cell (化学品 in 化工和危险化学品); None when none or several."""
        found = set()
        for w, (code, _) in self.industry_index.items():
            if len(w) >= 2 and (w in word or (len(word) >= 2 and word in w)):
                found.add(code)
        if len(found) == 1:
            return found.pop()
        # several: the longest name contained in the cell wins if it is unambiguous
        best = [(len(w), code) for w, (code, _) in self.industry_index.items() if len(w) >= 2 and w in word]
        if not best:
            return None
        top = max(n for n, _ in best)
        codes = {c for n, c in best if n == top}
        return codes.pop() if len(codes) == 1 else None

    def _umbrella(self, term: str, enterprise_name: str) -> Match:
        spec = self.cfg["umbrellas"][term]
        members = [m for m in spec["members"] if m in self.real_industries]
        name = norm(enterprise_name)
        hits = set()
        for code in members:
            words = [self.industries[code], *self.cfg["industries"].get(code, [])]
            if any(len(norm(w)) >= 2 and norm(w) in name for w in words):
                hits.add(code)
        if len(hits) == 1:
            code = hits.pop()
            return Match(code, self.industries[code], "umbrella_inferred")
        hold = spec["holding"]
        return Match(hold["code"], hold["name"], "umbrella", follow_up=True,
                     suggestions=[self.industries[m] for m in members])

    # --- units and towns ----------------------------------------------------------------

    def region(self, raw: Any) -> Match:
        word = norm(raw)
        if not word:
            return Match(None)
        hit = self.region_index.get(word) or self.region_index.get(word.lower())
        if hit:
            return Match(hit[0], self.regions[hit[0]], hit[1])
        # 石横镇人民政府, 石横镇安监办, 肥城市石横镇: a unit of the town
        found = {code for w, code in self.region_words if w in word}
        if len(found) == 1:
            code = found.pop()
            return Match(code, self.regions[code], "contains")
        return Match(None, suggestions=_closest(word, list(self.real_regions.values())))

    def department(self, raw: Any) -> str | None:
        word = norm(raw)
        if not word:
            return None
        code = self.department_index.get(word) or self.department_index.get(word.removeprefix("肥城市"))
        if code:
            return code
        for w, c in sorted(self.department_index.items(), key=lambda kv: -len(kv[0])):
            if len(w) >= 3 and w in word:
                return c
        return None

    def looks_like_department(self, raw: Any) -> bool:
        word = norm(raw)
        return bool(word) and (self.department(word) is not None or word.endswith(DEPARTMENT_WORDS))

    def infer_region(self, *texts: tuple[str, str]) -> Match | None:
        """The one town a text names (the enterprise's name, then its address): 石横特钢 → 石横镇."""
        for how, txt in texts:
            t = norm(txt)
            if not t:
                continue
            found = {code for w, code in self.region_words if w in t}
            if len(found) == 1:
                code = found.pop()
                return Match(code, self.regions[code], how)
        return None

    def holding(self) -> Match:
        hold = self.holding_region
        return Match(hold["code"], hold["name"], "holding", follow_up=True)

    def unit_region(self, region_cell: Any, reporting_unit: Any, enterprise_name: str, address: str = "") -> tuple[Match, str]:
        """The new enterprise's town: the 所属镇街区 column, else a 上报单位 that is a town, else (a
        department reported it) the town its name or address names, else the holding region.
        Returns the match and which cell decided ("region", "reporting_unit", "enterprise_name",
        "address" or "")."""
        if norm(region_cell):
            m = self.region(region_cell)
            if m.ok:
                return m, "region"
            return m, "region"  # a town column that names no town: a problem with suggestions
        unit = norm(reporting_unit)
        if unit and not self.looks_like_department(unit):
            m = self.region(unit)
            if m.ok:
                return m, "reporting_unit"
        inferred = self.infer_region(("name", enterprise_name), ("address", address))
        if inferred is not None:
            return inferred, "enterprise_name" if inferred.how == "name" else "address"
        return self.holding(), ""

    # --- enterprises ----------------------------------------------------------------------

    def core_name(self, name: str) -> str:
        """The name without its place prefix and legal-form suffix (山东石横特钢集团有限公司 → 石横特钢)."""
        got = self._cores.get(name)
        if got is not None:
            return got
        n = norm(name)
        if self._prefixes is None:
            aff = self.cfg["enterprise_affixes"]
            self._prefixes = tuple(norm(p) for p in aff["prefixes"])
            self._suffixes = tuple(norm(s) for s in aff["suffixes"])
        changed = True
        while changed:
            changed = False
            for p in self._prefixes:
                if n.startswith(p) and len(n) > len(p) + 1:
                    n, changed = n[len(p):], True
            for s in self._suffixes:
                if n.endswith(s) and len(n) > len(s) + 1:
                    n, changed = n[:-len(s)], True
        self._cores[name] = n
        return n


def short_name_index(catalogue: Catalogue, enterprises: list[Enterprise]) -> dict[str, Enterprise | None]:
    """core name -> the one enterprise with it (None when several share it: never guessed)."""
    out: dict[str, Enterprise | None] = {}
    for e in enterprises:
        key = catalogue.core_name(e.name)
        if len(key) < 2:
            continue
        out[key] = None if key in out else e
    return out
