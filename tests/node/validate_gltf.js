// Khronos glTF-Validator (npm gltf-validator) on each file named on the command line;
// prints one JSON report per line: {"file", "errors", "warnings", "infos", "messages"}.
// NODE_PATH must reach the gltf-validator package (scripts/setup.sh installs it).
const fs = require("fs");
const validator = require("gltf-validator");

(async () => {
  for (const file of process.argv.slice(2)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)), {
      maxIssues: 100,
      externalResourceFunction: (uri) => Promise.reject(new Error(`external ${uri}`)),
    });
    const issues = report.issues;
    console.log(JSON.stringify({
      file, errors: issues.numErrors, warnings: issues.numWarnings, infos: issues.numInfos,
      messages: issues.messages.map((m) => `${m.severity} ${m.code} ${m.pointer || ""}: ${m.message}`),
      info: report.info,
    }));
  }
})().catch((err) => { console.error(err); process.exit(1); });
