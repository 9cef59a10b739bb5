// Runs Dolos (dolos-lib) on one query job for fromscratch's code benchmark.
//
// Usage: node run_dolos.mjs JOB.json OUT.json
// JOB.json: {"refs": [path...], "candidates": [path...], "top": 10,
//            "maxFingerprintPercentage": null | 0.05}
// Dolos has no candidate -> corpus mode, so every file goes into one analysis
// (that is how a user would run it); afterwards only candidate x reference pairs
// are read out. OUT.json: {"seconds": s, "rankings": {candidate: [[ref, similarity], ...]}}.
import { Dolos } from "@dodona/dolos-lib";
import { readFileSync, writeFileSync } from "node:fs";

const [jobPath, outPath] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobPath, "utf8"));
const t0 = process.hrtime.bigint();
const options = { language: "python" };
if (job.maxFingerprintPercentage != null) options.maxFingerprintPercentage = job.maxFingerprintPercentage;
const dolos = new Dolos(options);
const report = await dolos.analyzePaths([...job.refs, ...job.candidates]);
const byPath = new Map(report.files.map((f) => [f.path, f]));
const refs = job.refs.map((p) => byPath.get(p)).filter(Boolean);
const rankings = {};
for (const c of job.candidates) {
  const cf = byPath.get(c);
  if (!cf) { rankings[c] = []; continue; }
  const scored = [];
  for (const rf of refs) {
    if (rf === cf) continue;
    scored.push([rf.path, report.getPair(cf, rf).similarity]);
  }
  scored.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  rankings[c] = scored.slice(0, job.top ?? 10);
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
writeFileSync(outPath, JSON.stringify({ seconds, rankings }));
console.log(`dolos: ${seconds.toFixed(1)} s for ${job.refs.length} references x ${job.candidates.length} candidates`);
