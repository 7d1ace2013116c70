/** Product version, reported in manifests, reports and `--version`. Keep in step with package.json. */
export const PRODUCT_VERSION = '0.1.0';
export const PRODUCT_NAME = 'ssr-recovery';
