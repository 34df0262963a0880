// Types of scripts/build.mjs for the TypeScript sources that import it (bin/entries.ts, tests).
export declare const ROOT: string;
export declare const DIST: string;
/** The built folder when dist/manifest.json matches every input as it is now; else null. */
export declare function freshBuild(): string | null;
/** The built folder, building it first if it is missing or older than any of its inputs. */
export declare function ensureBuilt(): Promise<string>;
/** Build now; returns the folder. */
export declare function build(): Promise<string>;
