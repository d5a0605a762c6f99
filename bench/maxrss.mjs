// Fallback peak-RSS probe, used only when /usr/bin/time is missing:
// `node --import ./bench/maxrss.mjs SCRIPT` writes this process's peak RSS
// (KB) to $BENCH_RSS_FILE when it exits.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
