/** Analysis: histograms, per-image statistics, connected components, Canny edges, k-means. */
export { histogram, histogramPrograms, MAX_BINS, type HistogramOptions } from './histogram.js';
export { imageStats, imageStatsPrograms } from './stats.js';
export { connectedComponents, connectedComponentsPrograms, type ComponentStats, type ConnectedComponentsOptions, type ConnectedComponentsResult, type Connectivity } from './components.js';
export { canny, cannyPrograms, type CannyKsize, type CannyOptions } from './canny.js';
export { kmeans, kmeansPrograms, MAX_K, type KMeansOptions, type KMeansResult } from './kmeans.js';
