#!/usr/bin/env python3
"""Rebuild src/factors/data/grid.csv, the embedded annual grid-intensity table.

Sources (both redistributable with attribution):
  - carbontracker's carbon-intensities.csv (MIT; values from Our World in Data, CC BY 4.0,
    underlying Ember / Energy Institute), keyed by ISO alpha-2 and alpha-3;
  - CodeCarbon's global_energy_mix.json (MIT; same OWID data) for countries the first lacks;
  - CodeCarbon's nordic_emissions.json (MIT; ENTSO-E historical averages) for Nordic bidding zones.
Electricity Maps data (ODbL, share-alike) is deliberately NOT embedded.

  python3 scripts/build_factors.py DIR > src/factors/data/grid.csv
DIR holds carbontracker__carbon-intensities.csv, codecarbon__global_energy_mix.json and
codecarbon__nordic_emissions.json: the files those projects publish, named after their project.
"""
import csv
import json
import os
import sys

# ISO alpha-3 -> alpha-2 for the countries only the CodeCarbon table has.
ISO2 = {"BOL": "BO", "BRN": "BN", "CIV": "CI", "COD": "CD", "CPV": "CV", "FLK": "FK", "IRN": "IR",
        "KOR": "KR", "LAO": "LA", "MDA": "MD", "PRK": "KP", "PSE": "PS", "REU": "RE", "RUS": "RU",
        "SHN": "SH", "SYR": "SY", "TLS": "TL", "TUR": "TR", "TWN": "TW", "TZA": "TZ", "VEN": "VE",
        "VGB": "VG", "VIR": "VI", "VNM": "VN"}
OWID = "Our World in Data, carbon intensity of electricity (Ember; Energy Institute)"


def main():
    src = sys.argv[1]
    rows = []
    seen = set()
    # keep_default_na semantics are a pandas trap: read as plain text so Namibia's "NA" stays a code
    with open(os.path.join(src, "carbontracker__carbon-intensities.csv"), newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append((r["alpha-2"], r["Code"], r["Entity"], float(r["Carbon intensity of electricity (gCO2/kWh)"]),
                         int(r["Year"]), OWID + " via carbontracker", "CC-BY-4.0"))
            seen.add(r["Code"])
    mix = json.load(open(os.path.join(src, "codecarbon__global_energy_mix.json"), encoding="utf-8"))
    for iso3, v in sorted(mix.items()):
        if iso3 in seen or iso3 not in ISO2:
            continue
        rows.append((ISO2[iso3], iso3, v["country_name"], round(float(v["carbon_intensity"]), 6), int(v["year"]),
                     OWID + " via CodeCarbon global_energy_mix", "CC-BY-4.0"))
    nordic = json.load(open(os.path.join(src, "codecarbon__nordic_emissions.json"), encoding="utf-8"))
    for zone, v in sorted(nordic["data"].items()):
        if zone == "FI":
            continue  # the country row covers Finland
        rows.append((zone, "", v["description"], float(v["emission_factor"]), int(v["year"]),
                     "ENTSO-E historical averages via CodeCarbon nordic_emissions.json", "MIT"))
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["zone", "iso3", "name", "g_per_kwh", "year", "source", "licence"])
    for r in sorted(rows):
        w.writerow(r)


if __name__ == "__main__":
    main()
