// What `run` and `coordinator` serve and write while a run goes, whatever the engine: /metrics,
// /healthz and the control API on --metrics-port (observe/http.ts, observe/metrics.ts), and
// DIR/net/softnet_stat with --procfs (observe/procfs.ts). The engines feed snapshots in; the
// control API is routed to the run once it exists, and stays on it after the end (status keeps
// answering, commands get 409), which is what --keep-alive serves until a signal.
import type { EmuConfig } from "../model/config.ts";
import type { CpuCounters, RunResults } from "../model/results.ts";
import { ControlError, startHttpServer, type ControlHandlers, type HttpServerHandle } from "./http.ts";
import { SoftnetMetrics, type FaultTimeline, type RunStatus } from "./metrics.ts";
import { ProcfsWriter } from "./procfs.ts";

export interface ObserverOptions {
  cfg: EmuConfig;
  /** The run's `scenario` label: the scenario file's name, or "default". */
  scenario: string;
  metricsPort?: number;
  /** Where the HTTP server listens (--metrics-host; 127.0.0.1 unless told otherwise). */
  host: string;
  /** The bearer token the control API's commands need (observe/http.ts: made up off loopback when not given). */
  controlToken?: string;
  procfsDir?: string;
  /** Rewrite softnet_stat at most this often during the run (default: ProcfsWriter's, 1 s). */
  procfsIntervalMs?: number;
}

/** A snapshot's run-wide part; the labels are the observer's. */
export type RunState = Omit<RunStatus, "scenario" | "profile">;

export class Observer {
  readonly metrics: SoftnetMetrics;
  private target: ControlHandlers | undefined;
  private http_: HttpServerHandle | undefined;
  private procfs: ProcfsWriter | undefined;

  private constructor(private readonly o: ObserverOptions) {
    this.metrics = new SoftnetMetrics({ windowNs: o.cfg.window_ns });
  }

  /**
   * The folder first, then the port: either refused is a one-line UsageError (exit 2) before the
   * run starts, and nothing is left open.
   */
  static async open(o: ObserverOptions): Promise<Observer> {
    const obs = new Observer(o);
    if (o.procfsDir !== undefined)
      obs.procfs = await ProcfsWriter.open({ dir: o.procfsDir, columns: o.cfg.softnet_stat_columns, ...(o.procfsIntervalMs ? { intervalMs: o.procfsIntervalMs } : {}) });
    if (o.metricsPort !== undefined) {
      try {
        obs.http_ = await startHttpServer({
          port: o.metricsPort,
          host: o.host,
          metrics: obs.metrics,
          control: obs.deferredControl(),
          ...(o.controlToken !== undefined ? { controlToken: o.controlToken } : {}),
        });
      } catch (err) {
        await obs.close();
        throw err;
      }
    }
    return obs;
  }

  /** The server's base URL (with the port the OS chose for --metrics-port 0). */
  get url(): string | undefined {
    return this.http_?.url;
  }

  /** The HTTP server (its address, its control token), with --metrics-port. */
  get http(): HttpServerHandle | undefined {
    return this.http_;
  }

  /** The `scenario` label of every series. */
  get scenario(): string {
    return this.o.scenario;
  }

  get procfsPath(): string | undefined {
    return this.procfs?.path;
  }

  /** Route the control API to this run from now on. */
  attach(control: ControlHandlers): void {
    this.target = control;
  }

  /** Rows with the attributed counts on their CPUs (engine/aggregate.ts attribute()). */
  update(rows: readonly CpuCounters[], state: RunState): void {
    this.metrics.update(rows, { scenario: this.o.scenario, profile: this.o.cfg.profile.name, ...state });
    this.procfs?.update(this.metrics.latest().counters);
  }

  /** A chaos run's faults (softnet_emu_faults_total, softnet_emu_fault_active), judged at each update's virtual time. */
  faults(timeline: FaultTimeline): void {
    this.metrics.setFaults(timeline);
  }

  /** The registry was fed directly (observe/processes-control.ts feedMetrics): the file follows it. */
  metricsUpdated(): void {
    this.procfs?.update(this.metrics.latest().counters);
  }

  /** The final rows and the checker's verdict; returns a warning line if softnet_stat could not be written. */
  async final(results: RunResults): Promise<string | undefined> {
    const last = this.metrics.latest().run;
    this.update(results.cpus, {
      virtualNs: results.virtual_ns,
      lostOnCrash: results.totals.lost_on_crash,
      checkerOk: results.checker.ok,
      ...(last?.malformed ? { malformed: last.malformed } : {}),
      ...(last?.lagSeconds !== undefined ? { lagSeconds: last.lagSeconds } : {}),
    });
    try {
      await this.procfs?.final(results.cpus);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.procfs?.close();
    await this.http_?.close();
    this.procfs = undefined;
    this.http_ = undefined;
  }

  /** The control API before the run exists answers that it has not started. */
  private deferredControl(): ControlHandlers {
    const to = (): ControlHandlers => {
      if (!this.target) throw new ControlError(409, "the run has not started yet");
      return this.target;
    };
    return {
      offline: (req) => to().offline(req),
      online: (req) => to().online(req),
      rate: (req) => to().rate(req),
      stop: () => to().stop(),
      status: () => (this.target ? this.target.status() : { phase: "starting", cpus: this.o.cfg.cpus, registered: [] }),
    };
  }
}

/** Wait for SIGINT or SIGTERM (--keep-alive); the listeners are gone when it resolves. */
export function untilSignal(): Promise<"SIGINT" | "SIGTERM"> {
  return new Promise((resolve) => {
    const on = (signal: "SIGINT" | "SIGTERM") => (): void => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(signal);
    };
    const onInt = on("SIGINT");
    const onTerm = on("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}
