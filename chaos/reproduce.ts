// The one line a failed chaos run prints (TigerBeetle prints its seed the same way): the command
// line as given, with the run's seed pinned, quoted for a POSIX shell so it can be pasted back.

const SAFE = /^[A-Za-z0-9_./:=,@%+-]+$/;

function quote(arg: string): string {
  return SAFE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `args` as given after the program name (`run`, flags…); any --seed is replaced by `seed`. */
export function reproduceCommand(args: readonly string[], seed: number): string {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--seed") {
      i++;
      continue;
    }
    if (a.startsWith("--seed=")) continue;
    out.push(a);
  }
  return ["softnet-emu", ...out, "--seed", String(seed)].map(quote).join(" ");
}
