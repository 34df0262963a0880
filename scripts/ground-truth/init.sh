#!/bin/busybox sh
# /init of the ground-truth guest (busybox sh, PID 1). Reads its phases from the kernel command line
#   gt_secs=S gt_phases=NAME:RPS_CPUS:FLOWS:NETDEV_MAX_BACKLOG:FLOW_LIMIT_CPU_BITMAP,...
#   [gt_hotplug=NAME:RPS_CPUS:CPU:NETDEV_MAX_BACKLOG,...]   (the hotplug loop after them)
#   [gt_nic=NAME:RPS_CPUS:NETDEV_MAX_BACKLOG:NETDEV_BUDGET,...]   (the NIC loop at the end: the flood
#    comes from the host through QEMU's user-mode network; see "GT NAME flood" below)
# and, per phase: sets the sysctls and lo's rps_cpus, starts the receiver on CPU 1, snapshots the
# counters, runs the sender on CPU 0 for S seconds, waits for the backlogs to drain, snapshots again.
# Every line it prints for the host starts with "GT " (the console can interleave kernel messages);
# the host parses them (scripts/ground-truth/parse.ts).
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox mount -t devtmpfs dev /dev
# The kernel found no /dev/console in the initramfs: take the console now.
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
ip link set lo up

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -n 1; }
secs=$(arg gt_secs)
phases=$(arg gt_phases)
hotplug=$(arg gt_hotplug)
nic=$(arg gt_nic)
budget=$(arg gt_budget)
[ -n "$budget" ] || budget=300
port=15000

snap() { # $1 phase, $2 before|after
  t="GT $1 $2"
  sed "s/^/$t softnet_stat /" /proc/net/softnet_stat
  sed "s/^/$t softirqs /" /proc/softirqs
  sed "s/^/$t interrupts /" /proc/interrupts
  sed "s/^/$t snmp /" /proc/net/snmp
  grep '^cpu[0-9]' /proc/stat | sed "s/^/$t stat /"
  if [ -n "$dev" ]; then
    for f in rx_packets rx_dropped rx_missed_errors rx_fifo_errors rx_errors rx_bytes; do
      echo "$t netdev $f=$(cat "/sys/class/net/$dev/statistics/$f")"
    done
  fi
  for d in /proc/[0-9]*; do
    c=$(cat "$d/comm" 2>/dev/null)
    case "$c" in ksoftirqd/*) echo "$t ksoftirqd ${c#ksoftirqd/} $(cat "$d/schedstat")" ;; esac
  done
  dmesg -c | sed "s/^/$t dmesg /"
}

# backlog_len is column 12 of softnet_stat: wait (bounded) until every CPU's queue is empty and the
# counters stand still over 100 ms (a packet just dequeued is in neither backlog_len nor processed
# yet), so the "after" snapshot counts every packet the sender got accepted. A vCPU the host does
# not run for a while drains late: up to 10 s, then the snapshot is taken anyway.
drain() {
  i=0
  prev=
  while [ $i -lt 100 ]; do
    now=$(cat /proc/net/softnet_stat)
    busy=$(echo "$now" | awk '$12 != "00000000" { n++ } END { print n + 0 }')
    [ "$busy" = 0 ] && [ "$now" = "$prev" ] && return 0
    prev=$now
    usleep 100000
    i=$((i + 1))
  done
  echo "GT warn $1: backlog not drained after 10 s"
}

# A phase's settings: $1 netdev_max_backlog, $2 netdev_budget, $3 flow_limit_cpu_bitmap, $4 the
# receive queue's rps_cpus file, $5 its mask.
set_phase() {
  echo "$1" >/proc/sys/net/core/netdev_max_backlog
  echo "$2" >/proc/sys/net/core/netdev_budget
  echo "$3" >/proc/sys/net/core/flow_limit_cpu_bitmap
  echo "$5" >"$4"
}
# The receiving task on CPU 1 ($rx), bound before this returns; "any" binds every address (NIC).
start_rx() {
  rm -f /tmp/rx.ready
  taskset -c 1 /bin/gt-recv $port /tmp/rx.ready "$@" >/tmp/rx.out 2>&1 &
  rx=$!
  while [ ! -e /tmp/rx.ready ]; do usleep 10000; done
}
# Stop it; its count goes to the host as "GT $1 rx ...".
stop_rx() {
  kill "$rx"
  wait "$rx"
  echo "GT $1 rx $(cat /tmp/rx.out)"
}

echo "GT boot kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo) cmdline=$(cat /proc/cmdline)"
dmesg -c >/dev/null
for spec in $(echo "$phases" | tr ',' ' '); do
  IFS=: read -r name rps flows backlog bitmap <<SPEC
$spec
SPEC
  set_phase "$backlog" "$budget" "$bitmap" /sys/class/net/lo/queues/rx-0/rps_cpus "$rps"
  echo "GT $name phase rps_cpus=$(cat /sys/class/net/lo/queues/rx-0/rps_cpus) flows=$flows secs=$secs netdev_max_backlog=$(cat /proc/sys/net/core/netdev_max_backlog) netdev_budget=$(cat /proc/sys/net/core/netdev_budget) flow_limit_cpu_bitmap=$(cat /proc/sys/net/core/flow_limit_cpu_bitmap)"
  start_rx
  snap "$name" before
  echo "GT $name go" # the host samples its vCPU threads' CPU time from here to the tx line
  taskset -c 0 /bin/gt-send $port "$flows" "$secs" >/tmp/tx.out 2>&1
  echo "GT $name tx $(cat /tmp/tx.out)"
  drain "$name"
  snap "$name" after
  stop_rx "$name"
done
# Hotplug phases, gt_hotplug=NAME:RPS_CPUS:CPU:NETDEV_MAX_BACKLOG,...: a 6 s flood of 64 flows, CPU
# offline at 2 s and online at 4 s; cumulative softnet_stat rows at each step, with the seconds since
# the start (from /proc/uptime, in hundredths).
now_cs() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }
hstep() { # $1 phase, $2 step
  echo "GT $1 step $2 rel=$(awk -v t0="$t0" '{ printf "%.2f", ($1 * 100 - t0) / 100 }' /proc/uptime)"
  sed "s/^/GT $1 $2 softnet_stat /" /proc/net/softnet_stat
}
until_cs() { while [ "$(now_cs)" -lt $((t0 + $1)) ]; do usleep 20000; done; }
for spec in $(echo "$hotplug" | tr ',' ' '); do
  IFS=: read -r name rps cpu backlog <<SPEC
$spec
SPEC
  set_phase "$backlog" "$budget" 0 /sys/class/net/lo/queues/rx-0/rps_cpus "$rps"
  echo "GT $name hotplug rps_cpus=$(cat /sys/class/net/lo/queues/rx-0/rps_cpus) offline_cpu=$cpu netdev_max_backlog=$(cat /proc/sys/net/core/netdev_max_backlog)"
  start_rx
  t0=$(now_cs)
  hstep "$name" t0_before_start
  taskset -c 0 /bin/gt-send $port 64 6 >/tmp/tx.out 2>&1 &
  tx=$!
  until_cs 200
  hstep "$name" imm_before_off
  echo 0 >"/sys/devices/system/cpu/cpu$cpu/online" || echo "GT warn $name: cpu$cpu did not go offline"
  hstep "$name" imm_after_off
  until_cs 300
  hstep "$name" off_mid
  until_cs 400
  hstep "$name" imm_before_on
  echo 1 >"/sys/devices/system/cpu/cpu$cpu/online" || echo "GT warn $name: cpu$cpu did not come back"
  hstep "$name" imm_after_on
  wait "$tx"
  echo "GT $name tx $(cat /tmp/tx.out)"
  drain "$name"
  hstep "$name" final
  dmesg -c | sed "s/^/GT $name after dmesg /"
  stop_rx "$name"
done
# NIC phases, gt_nic=NAME:RPS_CPUS:NETDEV_MAX_BACKLOG:NETDEV_BUDGET,...: virtio-net's modules (the
# initramfs carries them, in load order), the device up as QEMU's user network expects (10.0.2.15),
# its RX IRQ on CPU 0. Per phase the receiver listens on every address; "GT NAME flood" asks the
# host to flood for S seconds; the phase ends once the device's rx_packets stand still.
if [ -n "$nic" ]; then
  while read -r m; do insmod "/lib/modules/gt/$m" || echo "GT warn insmod $m failed"; done </lib/modules/gt/order
  dev=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
  [ -n "$dev" ] || echo "GT warn no network device"
  ip addr add 10.0.2.15/24 dev "$dev"
  ip link set "$dev" up
  irq=$(awk '/virtio[0-9]+-input\.0/ { sub(":", "", $1); print $1; exit }' /proc/interrupts)
  [ -n "$irq" ] || echo "GT warn no virtio input IRQ in /proc/interrupts"
  echo 1 >"/proc/irq/$irq/smp_affinity" || echo "GT warn cannot pin IRQ $irq to CPU 0"
fi
rx_packets() { cat "/sys/class/net/$dev/statistics/rx_packets"; }
quiet_rx() { # until nothing arrives for 300 ms (at most 18 s)
  i=0
  prev=$(rx_packets)
  while [ $i -lt 60 ]; do
    usleep 300000
    now=$(rx_packets)
    [ "$now" = "$prev" ] && return 0
    prev=$now
    i=$((i + 1))
  done
}
if [ -n "$nic" ]; then
  # A second's flood, not measured: x86 moves an IRQ to its new CPU at its next interrupt, so the
  # first one after the pinning would still land on the old CPU inside the first phase.
  echo "GT warmup flood secs=1"
  sleep 1
  quiet_rx
fi
for spec in $(echo "$nic" | tr ',' ' '); do
  IFS=: read -r name rps backlog nbudget <<SPEC
$spec
SPEC
  set_phase "$backlog" "$nbudget" 0 "/sys/class/net/$dev/queues/rx-0/rps_cpus" "$rps"
  echo "GT $name nic rps_cpus=$(cat "/sys/class/net/$dev/queues/rx-0/rps_cpus") netdev_max_backlog=$(cat /proc/sys/net/core/netdev_max_backlog) netdev_budget=$(cat /proc/sys/net/core/netdev_budget) irq=$irq affinity=$(cat "/proc/irq/$irq/smp_affinity") receiver_cpu=1 dev=$dev"
  start_rx any
  snap "$name" before
  echo "GT $name flood secs=$secs"
  sleep "$secs"
  # The host started late or runs slow: wait (bounded) until nothing arrives.
  quiet_rx
  drain "$name"
  snap "$name" after
  stop_rx "$name"
done
echo "GT done"
# The host stops QEMU when it reads "GT done": everything before it has crossed the serial line by
# then. Rebooting here at once could lose the tail of the output still in the tty's buffer (it did).
# Should nobody be watching, -no-reboot turns this later reboot into QEMU's exit.
sleep 30
reboot -f
