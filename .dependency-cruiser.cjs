// The import graph's rules (issue 13), checked by test/architecture/imports.test.ts:
//   npx depcruise --config .dependency-cruiser.cjs cli config observe transport proto model engine coordinator cpu-node chaos liveness report validate bench scripts
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "no import circles anywhere", from: {}, to: { circular: true } },
    { name: "nothing-imports-cli", severity: "error", comment: "cli/ is the top floor: it imports everything, nothing imports it", from: { pathNot: "^(cli|test|bin)/" }, to: { path: "^cli/" } },
    { name: "model-stands-alone", severity: "error", comment: "model/ is the pure core: it imports nothing outside itself (not even node's modules)", from: { path: "^model/" }, to: { pathNot: "^model/" } },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
  },
};
