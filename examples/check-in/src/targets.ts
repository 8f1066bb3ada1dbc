import type { ServiceUrls } from './config.js';
import type { TargetNames } from './events.js';

/** Names of the downstreams by origin, for the timeline. */
export function targetNames(urls: ServiceUrls): TargetNames {
  return {
    [new URL(urls.barcode).origin]: 'barcode generator',
    [new URL(urls.output).origin]: 'output management',
    [new URL(urls.card).origin]: 'card service',
    [new URL(urls.payment).origin]: 'payment service',
  };
}
