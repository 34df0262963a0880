// struct softnet_data: one per CPU, owned by that CPU's process (docs/DESIGN.md §1.1).
// see include/linux/netdevice.h: struct softnet_data
import { newNapi, type Napi } from "./napi.ts";
import { PacketQueue } from "./packet-queue.ts";

export class SoftnetData {
  readonly input_pkt_queue = new PacketQueue();
  readonly process_queue = new PacketQueue();
  /** NAPIs scheduled for polling on this CPU, in order. */
  poll_list: Napi[] = [];
  readonly backlog: Napi;
  in_net_rx_action = false;
  in_napi_threaded_poll = false;
  input_queue_head = 0;
  input_queue_tail = 0;
  processed = 0;
  dropped = 0;
  time_squeeze = 0;
  received_rps = 0;
  /** Packets this CPU's flow limiter refused (kept per enqueuing CPU, see rps.ts). */
  flow_limit_count = 0;

  constructor(backlogWeight: number) {
    this.backlog = newNapi("backlog", -1, backlogWeight);
  }

  /** skb_queue_len(input_pkt_queue) + skb_queue_len(process_queue): softnet_stat's backlog_len. */
  get backlogLen(): number {
    return this.input_pkt_queue.length + this.process_queue.length;
  }
}
