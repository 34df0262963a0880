// Worker thread of report/pool.ts: runs in-process emulations one at a time, as the main
// thread hands them over, and posts back the results (structured clone) and the engine's log lines.
import { parentPort } from "node:worker_threads";
import { runJudged, type WorkerReply, type WorkerRequest } from "./pool.ts";

const port = parentPort;
if (!port) throw new Error("report/run-worker.ts runs as a worker thread only");

port.on("message", (req: WorkerRequest) => {
  const reply = (m: WorkerReply) => port.postMessage(m);
  try {
    const results = runJudged(req.job, (line) => reply({ kind: "log", id: req.id, line }));
    reply({ kind: "done", id: req.id, results });
  } catch (err) {
    reply({ kind: "error", id: req.id, message: (err as Error).message, stack: (err as Error).stack ?? "" });
  }
});
