// Preloaded into a child process (`node --import tsx --import test/_kit/peak-rss.mjs …`): at exit
// its main thread writes the process's peak resident set (getrusage's ru_maxrss: every thread's
// memory, lavapipe's device memory included) to stderr as `peak-rss-bytes N`. Plain JavaScript:
// worker threads inherit the flag, and a .ts preload fails to load there.
import { writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) process.on('exit', () => writeSync(2, `peak-rss-bytes ${process.resourceUsage().maxRSS * 1024}\n`));
