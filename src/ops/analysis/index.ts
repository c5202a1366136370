/** Analysis: histograms, per-image statistics, connected components, Canny edges, k-means. */
export { histogram, type HistogramOptions } from './histogram.js';
export { imageStats } from './stats.js';
export { connectedComponents, type ComponentStats, type ConnectedComponentsOptions, type ConnectedComponentsResult, type Connectivity } from './components.js';
export { canny, type CannyKsize, type CannyOptions } from './canny.js';
export { kmeans, type KMeansOptions, type KMeansResult } from './kmeans.js';
