// Where the machine's CPU went during a phase: each process this run started (sysbench counted
// from this process's reaped children), kernel threads and interrupts, and the rest: other
// programs on the machine (running at the same time they skew every number; this shows it).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Snapshot {
  at: number;
  /** Busy ticks of the whole machine (all cores), and of interrupts. */
  busy: number;
  irq: number;
  /** Every process: own ticks plus those of its reaped children, and its parent's pid. */
  all: Map<number, { ticks: number; ppid: number; own: number; children: number }>;
  /** Names of the processes this run started, by pid. */
  ours: Map<number, string>;
}

function readProcesses(): Map<number, { ticks: number; ppid: number; own: number; children: number }> {
  const out = new Map<number, { ticks: number; ppid: number; own: number; children: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
      // After the command name: state, ppid (1), …, utime stime cutime cstime (11–14).
      const own = f[11]! + f[12]!;
      const children = f[13]! + f[14]!;
      out.set(Number(entry), { ticks: own + children, ppid: f[1]!, own, children });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Busy ticks of the whole machine, and the part spent in interrupts. */
function machineBusy(): { busy: number; irq: number } {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq (steal, guest…): busy is user+nice+system+irq+softirq.
  return { busy: cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]!, irq: cpu[5]! + cpu[6]! };
}

export function cpuSnapshot(pids: Record<string, number>): Snapshot {
  const ours = new Map<number, string>(Object.entries(pids).map(([name, pid]) => [pid, name]));
  ours.set(process.pid, 'bench');
  const all = readProcesses();
  return { at: Date.now(), ...machineBusy(), all, ours };
}

/** CPU seconds per consumer between two snapshots, with the wall time and the machine's total. */
export interface CpuUse {
  wallSeconds: number;
  machineBusySeconds: number;
  /** Per process this run started, sysbench included. */
  seconds: Record<string, number>;
  /** Kernel threads and interrupts (I/O completion, journaling, memory management). */
  kernel: number;
  /** Everything else: programs not started by this run, including ones that exited meanwhile. */
  otherProcesses: number;
}

export function cpuBetween(a: Snapshot, b: Snapshot): CpuUse {
  const s = (ticks: number) => Math.round((ticks / TICKS) * 10) / 10;
  const seconds: Record<string, number> = {};
  let ours = 0;
  let kernel = b.irq - a.irq;
  for (const [pid, now] of b.all) {
    const before = a.all.get(pid);
    if (pid === 2 || now.ppid === 2) {
      kernel += now.own - (before?.own ?? 0);
    } else if (pid === process.pid) {
      // This process's reaped children are sysbench (and, during set-up, the CLI).
      seconds.bench = s(now.own - (before?.own ?? 0));
      seconds.sysbench = s(now.children - (before?.children ?? 0));
      ours += now.ticks - (before?.ticks ?? 0);
    } else if (b.ours.has(pid)) {
      seconds[b.ours.get(pid)!] = s(now.own - (before?.own ?? 0));
      ours += now.own - (before?.own ?? 0);
    }
  }
  const busy = b.busy - a.busy;
  return { wallSeconds: (b.at - a.at) / 1000, machineBusySeconds: s(busy), seconds, kernel: s(kernel), otherProcesses: s(Math.max(0, busy - ours - kernel)) };
}

export function formatCpu(u: CpuUse): string {
  const parts = Object.entries(u.seconds).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`);
  return `CPU seconds over ${u.wallSeconds.toFixed(0)} s wall (machine busy ${u.machineBusySeconds.toFixed(0)}): ${parts.join(', ')}, ` +
    `kernel ${u.kernel.toFixed(1)}, other programs ${u.otherProcesses.toFixed(1)}`;
}
