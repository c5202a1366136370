/** Tuning recipes on the user's images: the search on labelled images, calibration on good ones. */
export { tune, calibrateHeldOut, writeRecipeYaml, type TuneOptions, type TuneResult, type CalibrateResult } from './tune.js';
export { searchRecipe, type SearchOptions, type SearchProgress, type SearchResult } from './search.js';
export { calibrate, type Calibration } from './calibrate.js';
export { loadLabelled, loadFrames, type Frame, type LabelledFrame } from './data.js';
export { CLASSIC_SPACE, type Dimension } from './space.js';
export { METRICS, type Metric } from './score.js';
