// Reads {"name": definition, ...} on stdin; prints {"name": ["problem", ...], ...} on stdout.
// One process for every definition, so the Python tests pay node's start-up once.
"use strict";
const validator = require("asl-validator");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const definitions = JSON.parse(input);
  const results = {};
  for (const [name, definition] of Object.entries(definitions)) {
    const result = validator(definition, { checkArn: true, checkPaths: true });
    results[name] = result.isValid ? [] : result.errors.map((e) => `${e["Error code"] || ""}: ${e.Message || JSON.stringify(e)}`);
  }
  process.stdout.write(JSON.stringify(results));
});
