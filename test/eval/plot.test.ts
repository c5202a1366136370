import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type EpochPoint, trainingCurveSvg } from '../../src/eval/plot.js';

const points: EpochPoint[] = [
  { epoch: 1, trainLoss: 1.66, validationLoss: 1.5, iou: 0, dice: 0, f1: 0 },
  { epoch: 2, trainLoss: 1.2, validationLoss: null, iou: null, dice: null, f1: null },
  { epoch: 3, trainLoss: 0.7, validationLoss: 0.9, iou: 0.5, dice: 0.66, f1: 0.9 },
];

test('the training curve: a line per series (unmeasured epochs left out), the loss axis above the highest loss', () => {
  const svg = trainingCurveSvg(points, 'UNet 4-8 <cpu>');
  assert.match(svg, /UNet 4-8 &lt;cpu>/);
  const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1]!.split(' ').length);
  assert.deepEqual(lines, [3, 2, 2, 2, 2]); // train, validation, IoU, Dice, F1
  const yLabels = [...svg.matchAll(/text-anchor="end" font-size="11">([^<]+)</g)].map((m) => Number(m[1]));
  assert.deepEqual(yLabels.slice(0, 5), [0, 0.5, 1, 1.5, 2]); // 1.66 lies below the top tick
  for (const label of ['train', 'validation', 'IoU', 'Dice', 'F1 (tolerance)', 'epoch']) assert.ok(svg.includes(`>${label}<`), label);
});
