"""Duplicate hazards: find candidates, merge (keeping every source), undo, count by channel.

A hazard's sources are its own channel plus its hazard_source rows.  Merging
dismisses the duplicate through the machine (reason: merged into the kept
hazard) and re-points the duplicate's sources, plus one row for the duplicate's
own channel, to the kept hazard — so a hazard found by inspection and also
reported counts once for each channel and once in totals.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select as sa_select, union
from sqlmodel import Session, select

from hazardloop.config import clock
from hazardloop.models import audit
from hazardloop.errors import NotFound, ValidationError
from hazardloop.models.intake import HazardMerge, HazardSource
from hazardloop.models.tables import AppUser, Hazard
from hazardloop.states import guards, intake_guards, ledger
from hazardloop.states.roles import CHANNELS, MERGED_PREFIX, STATE_NAMES
THRESHOLD = 0.55

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise(text: str | None) -> str:
    """NFKC (full-width → half-width), lower case, no spaces or punctuation."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text or "")).lower()


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or {text}


def similarity(a: str | None, b: str | None) -> float:
    """0..1: the better of a sequence ratio and a character-bigram score (Chinese has no
    word breaks; bigrams catch reordered phrases like 储罐区液氨 / 液氨储罐区)."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    ratio = difflib.SequenceMatcher(None, na, nb).ratio()
    ga, gb = _bigrams(na), _bigrams(nb)
    common = len(ga & gb)
    bigram = (2 * common / (len(ga) + len(gb)) + common / min(len(ga), len(gb))) / 2
    return max(ratio, bigram)


@dataclass
class Candidate:
    hazard: Hazard
    score: float
    text_score: float
    location_score: float

    def as_dict(self) -> dict:
        h = self.hazard
        return {"hazard_id": h.id, "code": h.code, "title": h.title, "location": h.location, "state": h.state,
                "channel": h.channel, "score": round(self.score, 2)}


def score(text: str, location: str | None, title: str, description: str | None,
          other_location: str | None) -> tuple[float, float, float]:
    """(score, text score, location score) of a new text/location against a hazard's."""
    t = max(similarity(text, f"{title} {description or ''}"), similarity(text, title))
    if location and other_location:
        loc = similarity(location, other_location)
        return 0.75 * t + 0.25 * loc, t, loc
    return t, t, 0.0


def candidates(session: Session, enterprise_id: int, text: str, location: str | None = None,
               exclude: int | None = None, threshold: float = THRESHOLD, limit: int = 5) -> list[Candidate]:
    """Hazards at the same enterprise (not dismissed) whose description and location look alike."""
    stmt = select(Hazard).where(Hazard.enterprise_id == enterprise_id, Hazard.state != "dismissed")
    if exclude is not None:
        stmt = stmt.where(Hazard.id != exclude)
    out = []
    for h in session.exec(stmt.order_by(Hazard.id)).all():
        total, t, loc = score(text, location, h.title, h.description, h.location)
        if total >= threshold:
            out.append(Candidate(h, total, t, loc))
    out.sort(key=lambda c: -c.score)
    return out[:limit]


def candidates_for(session: Session, ref: int | str, threshold: float = THRESHOLD) -> list[Candidate]:
    h = ledger.get_hazard(session, ref)
    return candidates(session, h.enterprise_id, f"{h.title} {h.description}", h.location, exclude=h.id,
                      threshold=threshold)


def intake_candidates(session: Session, hazard: Hazard, actor: AppUser) -> list[dict]:
    """On intake: hazards at the new hazard's enterprise that look like it (those the reporter may
    see), each with the command that merges the new one into it — the new one is the duplicate,
    being still found."""
    out = []
    for c in candidates(session, hazard.enterprise_id, f"{hazard.title} {hazard.description}", hazard.location,
                        exclude=hazard.id):
        if not guards.can_view(actor, c.hazard):
            continue  # the public and inspectors learn nothing of hazards they may not see
        who = actor.username if all(guards.is_regulator_of(actor, h) for h in (c.hazard, hazard)) else "<监管人员用户名>"
        out.append(c.as_dict() | {"state_name": STATE_NAMES[c.hazard.state],
                                  "merge_command": f"hazardloop hazard merge {c.hazard.code} {hazard.code} --actor {who}"})
    return out


def add_source(session: Session, hazard: Hazard, *, channel: str, kind: str, ref: str, actor: str,
               merged_from: int | None = None, merge_id: int | None = None) -> HazardSource:
    src = HazardSource(hazard_id=hazard.id, channel=channel, kind=kind, ref=ref, merged_from=merged_from,
                       merge_id=merge_id, created_by=actor)
    session.add(src)
    session.flush()
    return src


def sources_of(session: Session, hazard: Hazard) -> list[dict]:
    rows = [{"channel": hazard.channel, "kind": "primary", "ref": hazard.code, "merged_from": None}]
    for s in session.exec(select(HazardSource).where(HazardSource.hazard_id == hazard.id)
                          .order_by(HazardSource.id)).all():
        rows.append({"channel": s.channel, "kind": s.kind, "ref": s.ref, "merged_from": s.merged_from})
    return rows


def channels_of(session: Session, hazard: Hazard) -> list[str]:
    seen: list[str] = []
    for s in sources_of(session, hazard):
        if s["channel"] not in seen:
            seen.append(s["channel"])
    return seen


def active_merge_of(session: Session, duplicate_id: int) -> HazardMerge | None:
    return session.exec(select(HazardMerge).where(HazardMerge.merged_id == duplicate_id,
                                                  HazardMerge.undone_at.is_(None))).first()  # type: ignore[union-attr]


def merge(session: Session, actor: AppUser, kept_ref: int | str, duplicate_ref: int | str,
          reason: str | None = None) -> HazardMerge:
    kept = ledger.get_hazard(session, kept_ref)
    dup = ledger.get_hazard(session, duplicate_ref)
    intake_guards.merge(actor, kept, dup)
    rec = HazardMerge(kept_id=kept.id, merged_id=dup.id, reason=reason, merged_by=actor.username)
    session.add(rec)
    session.flush()
    moved = []
    for src in session.exec(select(HazardSource).where(HazardSource.hazard_id == dup.id)).all():
        src.hazard_id = kept.id
        moved.append(src.id)
    primary = add_source(session, kept, channel=dup.channel, kind="merge", ref=dup.code, actor=actor.username,
                         merged_from=dup.id, merge_id=rec.id)
    rec.moved = moved + [primary.id]
    # The duplicate leaves the ledger through the machine (its guard: a regulator; state found).
    ledger.dismiss(session, actor, dup.id, reason=f"{MERGED_PREFIX}{kept.code}" + (f"（{reason}）" if reason else ""))
    session.flush()
    audit.append(session, actor=actor.username, action="merge", hazard_id=kept.id, reason=reason,
                 after={"merge_id": rec.id, "kept": kept.code, "merged": dup.code, "sources_moved": rec.moved,
                        "channels": channels_of(session, kept)})
    return rec


def unmerge(session: Session, actor: AppUser, merge_id: int, reason: str | None = None) -> HazardMerge:
    """Undo a merge: the duplicate returns to found through the machine's reopen transition
    (guards.reopen: a regulator of both hazards, this live merge record), then its sources go back."""
    rec = session.get(HazardMerge, merge_id)
    if rec is None:
        raise NotFound(f"没有编号为 {merge_id} 的合并记录。")
    if rec.undone_at is not None:
        raise ValidationError(f"合并记录 {merge_id} 已于 {clock.local_date(rec.undone_at)} 撤销。")
    kept, dup = session.get(Hazard, rec.kept_id), session.get(Hazard, rec.merged_id)
    # Guard and fire first (the refusal comes before anything is touched); audited as "reopen".
    ledger._transition(session, dup, "reopen", actor, {"merge": rec, "kept": kept}, {"dismissed_reason": None},
                       reason=reason, event="reopened", audit_extra={"merge_id": rec.id, "kept": kept.code})
    for src in session.exec(select(HazardSource).where(HazardSource.id.in_(rec.moved))).all():  # type: ignore[union-attr]
        if src.merge_id == rec.id and src.kind == "merge":
            session.delete(src)
        else:
            src.hazard_id = dup.id
    rec.undone_by, rec.undone_at = actor.username, clock.utcnow()
    session.flush()
    audit.append(session, actor=actor.username, action="unmerge", hazard_id=kept.id, reason=reason,
                 after={"merge_id": rec.id, "restored": dup.code, "channels": channels_of(session, kept)})
    return rec


def merged_away_ids():  # noqa: ANN201
    return select(HazardMerge.merged_id).where(HazardMerge.undone_at.is_(None))  # type: ignore[union-attr]


def channel_counts(session: Session, include_dismissed: bool = False) -> dict[str, int]:
    """Hazards per channel (a hazard counts once for each channel it came through) and the total
    (each hazard once).  Duplicates merged away are never counted."""
    alive = sa_select(Hazard.id).where(Hazard.id.not_in(merged_away_ids()))  # type: ignore[union-attr]
    if not include_dismissed:
        alive = alive.where(Hazard.state != "dismissed")
    pairs = union(
        sa_select(Hazard.id.label("hid"), Hazard.channel.label("ch")).where(Hazard.id.in_(alive)),  # type: ignore[union-attr]
        sa_select(HazardSource.hazard_id.label("hid"), HazardSource.channel.label("ch"))
        .where(HazardSource.hazard_id.in_(alive)),
    ).subquery()
    counts = {ch: 0 for ch in CHANNELS}
    for ch, n in session.execute(sa_select(pairs.c.ch, func.count()).group_by(pairs.c.ch)).all():
        counts[ch] = n
    counts["total"] = session.execute(sa_select(func.count()).select_from(alive.subquery())).scalar_one()
    return counts


__all__ = ["candidates", "candidates_for", "intake_candidates", "merge", "unmerge", "channel_counts", "sources_of", "channels_of",
           "add_source"]
