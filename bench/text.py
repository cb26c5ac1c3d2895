"""Throughput of the text-hygiene layer on a synthetic Vietnamese corpus.

Run: ``python bench/text.py [n_sentences]``. Prints strings/s and chars/s for
normalize() (NFC input: fast path; NFD input; tone-before-circumflex input),
fold() (translation table vs. a plain NFD-and-strip reference), legacy
decode/detect, and MARC-8 decoding.

The corpus is random sentences of valid Vietnamese syllables (onset + rhyme +
tone, filtered by the syllable model), seeded so runs are comparable.
"""

from __future__ import annotations

import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence

from thuvien_interop.crosswalk.legacy import decode, detect, encode
from thuvien_interop.crosswalk.marc8 import decode_marc8, encode_marc8, plausible_marc8
from thuvien_interop.crosswalk.text import fold, is_vietnamese_syllable, normalize

ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng",
          "ngh", "nh", "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x"]
RHYMES = ["a", "ai", "an", "ang", "anh", "ao", "at", "ac", "ay", "ăn", "ăng", "ăt", "âm", "ân",
          "âu", "ây", "e", "em", "en", "eo", "ê", "ên", "ênh", "êu", "i", "ia", "iên", "iêt",
          "iêu", "inh", "o", "oa", "oai", "oan", "oc", "oi", "on", "ong", "ô", "ôi", "ôn", "ông",
          "ôc", "ơ", "ơi", "ơn", "u", "ua", "uân", "uôi", "uôn", "uông", "uy", "uyên", "ư", "ưa",
          "ươc", "ươi", "ương", "ưu", "y", "yêu"]
TONES = ["", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]


def syllables() -> list[str]:
    found = set()
    for onset in ONSETS:
        for rhyme in RHYMES:
            for tone in TONES:
                word = unicodedata.normalize("NFC", onset + rhyme[0] + tone + rhyme[1:])
                if is_vietnamese_syllable(word):
                    found.add(word)
    return sorted(found)


def corpus(n: int, seed: int = 1456) -> list[str]:
    rng = random.Random(seed)
    words = syllables()
    out = []
    for _ in range(n):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(4, 18)))
        out.append(sentence[0].upper() + sentence[1:] + rng.choice([".", ",", "", ";"]))
    return out


_QUALITY_THEN_TONE = re.compile("([\u0302\u0306])([\u0300\u0301\u0303\u0309])")


def tone_first(text: str) -> str:
    """The tone typed before the circumflex/breve, as some input methods store it."""
    return _QUALITY_THEN_TONE.sub(r"\2\1", unicodedata.normalize("NFD", text))


def fold_nfd_reference(text: str) -> str:
    stripped = "".join(c for c in unicodedata.normalize("NFD", text)
                       if not unicodedata.combining(c))
    return " ".join(stripped.casefold().replace("đ", "d").split())


def bench(label: str, func: Callable[[object], object], items: Sequence[object],
          chars: int) -> None:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for item in items:
            func(item)
        best = min(best, time.perf_counter() - start)
    print(f"{label:<44} {len(items) / best:>12,.0f} strings/s {chars / best:>14,.0f} chars/s")


def main(argv: list[str]) -> None:
    n = int(argv[1]) if len(argv) > 1 else 20000
    nfc = corpus(n)
    chars = sum(map(len, nfc))
    nfd = [unicodedata.normalize("NFD", s) for s in nfc]
    swapped = [tone_first(s) for s in nfc]
    assert sum(s != t for s, t in zip(swapped, nfd, strict=True)) > n // 4
    assert all(normalize(s) == t for s, t in zip(swapped[:500], nfc[:500], strict=True))
    print(f"corpus: {n:,} sentences, {chars:,} characters, "
          f"{sum(len(s.split()) for s in nfc):,} syllables\n")
    bench("normalize (NFC input, fast path)", normalize, nfc, chars)
    bench("normalize (NFD input)", normalize, nfd, chars)
    bench("normalize (tone before circumflex)", normalize, swapped, chars)
    bench("fold (translation table)", fold, nfc, chars)
    bench("fold (NFD input)", fold, nfd, chars)
    bench("fold reference: NFD + strip per call", fold_nfd_reference, nfc, chars)
    small = nfc[: max(1, n // 10)]
    small_chars = sum(map(len, small))
    tcvn3 = [encode(s, "tcvn3") for s in small]
    vni = [encode(s, "vni") for s in small]
    bench("legacy decode tcvn3", lambda b: decode(b, "tcvn3"), tcvn3, small_chars)
    bench("legacy decode vni", lambda b: decode(b, "vni"), vni, small_chars)
    bench("legacy detect (tcvn3 bytes)", detect, tcvn3, small_chars)
    marc = [encode_marc8(s) for s in small]
    bench("MARC-8 decode (Vietnamese, ANSEL)", decode_marc8, marc, small_chars)
    bench("MARC-8 encode (Vietnamese)", encode_marc8, small, small_chars)
    # Asked of every record whose leader says MARC-8: beside decoding, its cost.
    viscii = [encode(s, "viscii") for s in small]
    bench("MARC-8 plausible? (real MARC-8)", plausible_marc8, marc, small_chars)
    bench("MARC-8 plausible? (VISCII bytes)", plausible_marc8, viscii, small_chars)


if __name__ == "__main__":
    main(sys.argv)
