"""Benchmark the union's clustering: a union of K providers built from real records
with known duplicates; prints clustering precision and recall against the truth,
and what clustering costs per record written, on SQLite and PostgreSQL. Asserts
nothing.

    python bench/union.py                                  # 3,000 LoC records, 6 providers
    python bench/union.py --base 10000 --providers 20 --skip-postgres

Each base record (Library of Congress records from pymarc 5.4.0's source
distribution, see bench/stores.py, or ``--marc``) is held by 1 to K providers,
each re-cataloguing it its own way: other punctuation and case in the title,
diacritics added, ISBN-10 written as ISBN-13 (with or without hyphens) or left out,
LC's control numbers (001, 010, 035) dropped, pages written otherwise, its own 852.
Beside them, true non-duplicates that look alike: another edition (250, a later
year, another ISBN) and another volume (245 $n) of some base records, held by one
or two providers. Every record knows which edition it is: two records of one
edition from different providers are a true pair; precision and recall count the
pairs inside the clusters.

The cost: the same records (built once, facts included, before the clocks start)
written batch by batch into two stores, one with clustering on and one with it
off (the peer), alternately, so that both see the same machine; the difference is
clustering's share of a write. The end-to-end figure adds computing the facts
(done by the pipeline's build step, beside rendering every format). Then the
first provider's nightly sync: its every record sent again with other holdings
(a changed 852), which clustering reads nothing new from.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stores import loc_file  # noqa: E402 - bench/ is not a package

from thuvien_interop.pipeline import BATCH  # noqa: E402

PG_URL = os.environ.get("THUVIEN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


# -- the union --------------------------------------------------------------------

def read_base(path: Path, n: int) -> list:
    """The first ``n`` readable book records with a title and a year."""
    import pymarc

    out = []
    with open(path, "rb") as f:
        for r in pymarc.MARCReader(f, to_unicode=True, force_utf8=True, permissive=True):
            if r is None or not r.get_fields("245") or not r.get_fields("008"):
                continue
            year = r["008"].data[7:11]
            if not year.isdigit() or str(r.leader)[6:7] != "a":
                continue
            out.append(r)
            if len(out) >= n:
                break
    return out


_ACCENTS = str.maketrans({"a": "á", "e": "ê", "o": "ô", "u": "ư", "i": "ì"})


def _isbn13(digits: str) -> str:
    body = digits[:12]
    check = (10 - sum(int(c) * (1 if k % 2 == 0 else 3) for k, c in enumerate(body)) % 10) % 10
    return body + str(check)


def _other_isbn(rng: random.Random) -> str:
    return _isbn13("978" + "".join(rng.choice("0123456789") for _ in range(9)) + "0")


def _set_subfield(field, code: str, value: str) -> None:
    import pymarc

    for i, sf in enumerate(field.subfields):
        if sf.code == code:
            field.subfields[i] = pymarc.Subfield(code, value)
            return


def recatalogue(base, provider: str, rng: random.Random):
    """One provider's copy of a base record."""
    import pymarc

    from thuvien_interop.union.keys import split_isbn

    r = copy.deepcopy(base)
    if rng.random() < 0.7:       # LC's own numbers are rarely kept by a local catalogue
        for tag in ("001", "003", "010", "035"):
            for f in r.get_fields(tag):
                r.remove_field(f)
    f245 = r["245"]
    title = f245.get("a") or ""
    roll = rng.random()
    if roll < 0.25:
        title = title.rstrip(" /:;.,")
    elif roll < 0.4:
        title = title.upper()
    elif roll < 0.5:
        title = title.lower()
    elif roll < 0.65:
        title = title.translate(_ACCENTS)
    if rng.random() < 0.3:
        title = title.replace(",", "").replace(":", " :")
    _set_subfield(f245, "a", title)
    for f in r.get_fields("020"):
        value = f.get("a")
        if not value:
            continue
        number, _q = split_isbn(value)
        roll = rng.random()
        if roll < 0.15:
            r.remove_field(f)
        elif number and roll < 0.6:
            shown = number if rng.random() < 0.5 else f"{number[:3]}-{number[3:4]}-{number[4:9]}-{number[9:12]}-{number[12]}"
            _set_subfield(f, "a", shown)
    for f in r.get_fields("300"):
        if f.get("a") and rng.random() < 0.5:
            _set_subfield(f, "a", f.get("a").replace(" p.", " tr.").replace("p.", "tr."))
    r.add_field(pymarc.Field("852", pymarc.Indicators(" ", " "), [
        pymarc.Subfield("a", provider), pymarc.Subfield("b", rng.choice(["Kho mượn", "Kho đọc", "Kho tham khảo"])),
        pymarc.Subfield("h", f"{rng.randint(100, 999)} {title[:3].upper()}")]))
    return r


def other_edition(base, rng: random.Random):
    import pymarc

    r = copy.deepcopy(base)
    for tag in ("001", "003", "010", "035", "020", "250"):
        for f in r.get_fields(tag):
            r.remove_field(f)
    year = int(r["008"].data[7:11]) + rng.randint(1, 5)
    r["008"].data = r["008"].data[:7] + str(year) + r["008"].data[11:]
    for f in r.get_fields("260", "264"):
        _set_subfield(f, "c", f"{year}.")
    r.add_field(pymarc.Field("250", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", "2nd ed.")]))
    if rng.random() < 0.6:
        r.add_field(pymarc.Field("020", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", _other_isbn(rng))]))
    return r


def other_volume(base, rng: random.Random):
    import pymarc

    r = copy.deepcopy(base)
    for tag in ("001", "003", "010", "035", "020"):
        for f in r.get_fields(tag):
            r.remove_field(f)
    r["245"].add_subfield("n", f"v. {rng.randint(2, 4)}")
    if rng.random() < 0.6:
        r.add_field(pymarc.Field("020", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", _other_isbn(rng))]))
    return r


def build_union(bases: list, providers: int, seed: int) -> tuple[dict[str, list], dict[str, str]]:
    """Provider → its pymarc records (with identifiers), and identifier → truth label."""
    rng = random.Random(seed)
    names = [f"p{k:02d}" for k in range(providers)]
    held: dict[str, list] = {p: [] for p in names}
    truth: dict[str, str] = {}

    def give(p: str, label: str, marc) -> None:
        ident = f"oai:{p}.thuvien.vn:{len(held[p]) + 1}"
        held[p].append((ident, marc))
        truth[ident] = label

    for i, base in enumerate(bases):
        holders = rng.sample(names, min(providers, 1 + int(rng.expovariate(0.6))))
        for p in holders:
            give(p, f"b{i}", recatalogue(base, p, rng))
        roll = rng.random()
        if roll < 0.08:
            look, kind = other_edition(base, rng), "ed"
        elif roll < 0.16:
            look, kind = other_volume(base, rng), "vol"
        else:
            continue
        for p in rng.sample(names, min(providers, rng.randint(1, 2))):
            give(p, f"{kind}{i}", recatalogue(look, p, rng))
    for p in names:
        rng.shuffle(held[p])
    return held, truth


# -- measuring --------------------------------------------------------------------

def built(held: dict[str, list]) -> tuple[dict[str, list], float, float]:
    """Provider → store records (every format rendered, facts computed), and the
    seconds spent building without and with the facts."""
    from thuvien_interop.formats import default_registry
    from thuvien_interop.pipeline import Incoming
    from thuvien_interop.pipeline.build import build

    registry = default_registry()
    out: dict[str, list] = {}
    facts_time = 0.0
    from thuvien_interop.union.clusters import facts_json

    t0 = time.perf_counter()
    for p, records in held.items():
        out[p] = []
        for ident, marc in records:
            item = Incoming(ident, ident, marc, sets=(f"source:{p}",), origin=f"source:{p}")
            outcome = build(item, registry)
            if outcome.record is None:
                continue
            t = time.perf_counter()
            facts_json(marc, outcome.record)
            facts_time += time.perf_counter() - t
            out[p].append(outcome.record)
    return out, time.perf_counter() - t0, facts_time


def resynced(held: dict[str, list], provider: str) -> list:
    """One provider's records as its nightly sync sends them again: each with other
    holdings (a call number changed in its 852), the same for clustering; built as
    :func:`built` builds."""
    changed = []
    for ident, marc in held[provider]:
        r = copy.deepcopy(marc)
        for f in r.get_fields("852"):
            f.add_subfield("p", f"DKCB-{ident.rsplit(':', 1)[-1]}")
        changed.append((ident, r))
    return built({provider: changed})[0][provider]


def write_both(on, off, batches: list[list]) -> tuple[list[float], list[float]]:
    """Write the batches into both stores, alternating which goes first; the wall
    and this process's CPU seconds each took ([wall, cpu])."""
    from thuvien_interop.pipeline.build import write_batch

    t_on, t_off = [0.0, 0.0], [0.0, 0.0]
    for k, batch in enumerate(batches):
        order = [(on, t_on), (off, t_off)] if k % 2 == 0 else [(off, t_off), (on, t_on)]
        for store, acc in order:
            t, c = time.perf_counter(), time.process_time()
            write_batch(store, batch)
            acc[0] += time.perf_counter() - t
            acc[1] += time.process_time() - c
    return t_on, t_off


def batches_of(records: dict[str, list]) -> list[list]:
    """Each provider's records in harvest pages, one provider after the other."""
    return [records[p][i:i + BATCH] for p in sorted(records) for i in range(0, len(records[p]), BATCH)]


def textbook(m: int) -> list[list]:
    """One edition held by ``m`` providers, each harvested on its own (a batch of
    one): a cluster that grows to ``m`` records."""
    import pymarc

    from thuvien_interop.formats import default_registry
    from thuvien_interop.pipeline import Incoming
    from thuvien_interop.pipeline.build import build

    registry = default_registry()
    out = []
    for k in range(m):
        r = pymarc.Record(leader="00000nam a22000007a 4500", force_utf8=True)
        r.add_field(pymarc.Field("008", data="260101s2024    vm            000 0 vie d"))
        r.add_field(pymarc.Field("020", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", "978-604-0-00000-2")]))
        r.add_field(pymarc.Field("245", pymarc.Indicators("0", "0"), [pymarc.Subfield("a", "Tiếng Việt 1 /")]))
        r.add_field(pymarc.Field("300", pymarc.Indicators(" ", " "), [pymarc.Subfield("a", "180 tr.")]))
        r.add_field(pymarc.Field("852", pymarc.Indicators(" ", " "), [pymarc.Subfield("b", "Kho")]))
        p = f"school{k:03d}"
        item = Incoming(p, f"oai:{p}.edu.vn:1", r, sets=(f"source:{p}",), origin=f"source:{p}")
        out.append([build(item, registry).record])
    return out


def quality(store, truth: dict[str, str]) -> tuple[float, float, int, int]:
    from thuvien_interop.union.clusters import open_index

    def pairs(groups) -> set[tuple[str, str]]:
        out = set()
        for g in groups:
            out.update(combinations(sorted(g), 2))
        return out

    provider = {i: i.split(":")[1] for i in truth}
    by_label: dict[str, list[str]] = {}
    for ident, label in truth.items():
        by_label.setdefault(label, []).append(ident)
    true = {(a, b) for a, b in pairs(by_label.values()) if provider[a] != provider[b]}
    found = pairs(m for _, m in open_index(store).iter_clusters(2))
    hit = len(true & found)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(true) if true else 1.0
    return precision, recall, len(found), len(true)


def run(label: str, open_pair, records: dict[str, list], truth: dict[str, str],
        facts_time: float, build_time: float, big: int, sync: list) -> None:
    from thuvien_interop.union.clusters import configure, open_index

    on, off = open_pair()
    configure(off, {"enabled": False})
    n = sum(len(v) for v in records.values())
    (t_on, c_on), (t_off, c_off) = write_both(on, off, batches_of(records))
    p, r, found, true = quality(on, truth)
    counts = open_index(on).counts()
    sizes = Counter(len(m) for _, m in open_index(on).iter_clusters(2))
    print(f"\n{label}: {n:,} records of {len(records)} providers")
    print(f"  clusters of 2+: {counts.clusters:,} holding {counts.clustered:,} records; "
          f"sizes {dict(sorted(sizes.items()))}")
    print(f"  precision {p:.4f}  recall {r:.4f}   ({found:,} pairs found, {true:,} true pairs)")
    print(f"  store write, clustering off (peer): {t_off / n * 1e6:8.1f} µs/record wall, "
          f"{c_off / n * 1e6:8.1f} µs CPU here")
    print(f"  store write, clustering on:         {t_on / n * 1e6:8.1f} µs/record wall, "
          f"{c_on / n * 1e6:8.1f} µs CPU here -> clustering {100 * (t_on - t_off) / t_off:5.1f}% "
          f"of a write (wall), {100 * (c_on - c_off) / c_off:5.1f}% (CPU here)")
    per_build = build_time / n
    print(f"  end to end (build + write):  off {(per_build - facts_time / n + t_off / n) * 1e6:8.1f}"
          f"  on {(per_build + t_on / n) * 1e6:8.1f} µs/record -> clustering "
          f"{100 * (facts_time + t_on - t_off) / (build_time - facts_time + t_off):5.1f}%"
          f" (facts {facts_time / n * 1e6:.1f} µs/record, in the build step)")
    if sync:
        (s_on, sc_on), (s_off, sc_off) = write_both(on, off, [sync[i:i + BATCH] for i in range(0, len(sync), BATCH)])
        m = len(sync)
        print(f"  a provider's sync, {m:,} records written again with other holdings: off "
              f"{s_off / m * 1e6:.1f}, on {s_on / m * 1e6:.1f} µs/record wall -> clustering "
              f"{100 * (s_on - s_off) / s_off:5.1f}% (wall), {100 * (sc_on - sc_off) / sc_off:5.1f}% (CPU here)")
    on.close()
    off.close()
    if big:
        on, off = open_pair()
        configure(off, {"enabled": False})
        pages = textbook(big)
        tenth = max(1, big // 10)
        first = write_both(on, off, pages[:tenth])
        write_both(on, off, pages[tenth:-tenth])
        last = write_both(on, off, pages[-tenth:])
        size = open_index(on).largest(1)
        print(f"  one edition held by {big} providers, harvested one by one: cluster of "
              f"{size[0][1] if size else 0}; a write (wall µs, on/off): first {tenth} "
              f"{first[0][0] / tenth * 1e6:.0f}/{first[1][0] / tenth * 1e6:.0f}, last {tenth} "
              f"{last[0][0] / tenth * 1e6:.0f}/{last[1][0] / tenth * 1e6:.0f}; CPU here: first "
              f"{first[0][1] / tenth * 1e6:.0f}/{first[1][1] / tenth * 1e6:.0f}, last "
              f"{last[0][1] / tenth * 1e6:.0f}/{last[1][1] / tenth * 1e6:.0f}")
        on.close()
        off.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=int, default=3000, help="base records (editions)")
    ap.add_argument("--providers", type=int, default=6)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--marc", type=Path, help="an ISO 2709 file (default: LoC records from pymarc)")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "thuvien-interop-bench")
    ap.add_argument("--postgres", default=PG_URL, help="database for the PostgreSQL run")
    ap.add_argument("--textbook", type=int, default=300,
                    help="also: one edition held by this many providers (0: not)")
    ap.add_argument("--no-sync", dest="sync", action="store_false",
                    help="not: the first provider's records written again with other holdings")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()

    from thuvien_interop.store import open_store

    path = args.marc or loc_file(args.cache)
    bases = read_base(path, args.base)
    held, truth = build_union(bases, args.providers, args.seed)
    records, build_time, facts_time = built(held)
    n = sum(len(v) for v in records.values())
    print(f"{len(bases):,} base records from {path.name}; {n:,} records of {args.providers} providers "
          f"({sum(1 for v in truth.values() if not v.startswith('b')):,} look-alikes); "
          f"built in {build_time:.1f} s (facts {facts_time:.1f} s)")
    sync = resynced(held, sorted(held)[0]) if args.sync else []
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            pairs = iter(range(10))

            def files() -> tuple:
                k = next(pairs)
                return open_store(f"sqlite:///{tmp}/on{k}.db"), open_store(f"sqlite:///{tmp}/off{k}.db")

            run("SQLite", files,
                records, truth, facts_time, build_time, args.textbook, sync)
    if not args.skip_postgres:
        import psycopg
        from psycopg import sql

        schemas: list[str] = []

        def pair() -> tuple:
            names = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
            schemas.extend(names)
            return tuple(open_store(f"{args.postgres}?schema={s}") for s in names)

        try:
            run("PostgreSQL", pair,
                records, truth, facts_time, build_time, args.textbook, sync)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                for s in schemas:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(s)))


if __name__ == "__main__":
    main()
