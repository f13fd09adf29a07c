// Turns the pinned packages of package.json into the data files the build embeds
// (`make field-data`); `--check` compares instead of writing and fails on any difference.
//   shared/data/zengin.tsv        bank lines "B<TAB>code<TAB>name<TAB>kana", each followed by its
//                                 branch lines "<TAB>code<TAB>name<TAB>kana" (zengin-code)
//   shared/data/holidays-jp.tsv   "date<TAB>name<TAB>English name" (@holiday-jp/holiday_jp)
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "shared", "data");
const check = process.argv.includes("--check");

const zengin = require("zengin-code");
const banks = Object.keys(zengin).sort();
const zlines = [];
for (const code of banks) {
  const b = zengin[code];
  zlines.push(["B", b.code, b.name, b.kana].join("\t"));
  for (const bc of Object.keys(b.branches).sort()) {
    const br = b.branches[bc];
    zlines.push(["", br.code, br.name, br.kana].join("\t"));
  }
}

const holidays = require("@holiday-jp/holiday_jp/lib/holidays.js");
const hlines = Object.keys(holidays)
  .sort()
  .map((d) => [d, holidays[d].name, holidays[d].name_en].join("\t"));

const version = (p) => require(`${p}/package.json`).version;
const files = {
  "zengin.tsv": zlines.join("\n") + "\n",
  "holidays-jp.tsv": hlines.join("\n") + "\n",
  "VERSIONS": `zengin-code ${version("zengin-code")}\n@holiday-jp/holiday_jp ${version("@holiday-jp/holiday_jp")}\n`,
};
let stale = [];
for (const [name, text] of Object.entries(files)) {
  const path = join(out, name);
  if (check) {
    let now = "";
    try { now = readFileSync(path, "utf8"); } catch { /* missing */ }
    if (now !== text) stale.push(name);
  } else {
    writeFileSync(path, text);
  }
}
if (stale.length) {
  console.error(`shared/data differs from the pinned packages: ${stale.join(", ")} (run make field-data)`);
  process.exit(1);
}
console.error(`${banks.length} banks, ${zlines.length - banks.length} branches, ${hlines.length} holidays ${check ? "match" : "written"}`);
