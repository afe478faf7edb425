/**
 * With a codec key, failures go through the codec too: their messages and stack traces move into
 * an encoded payload (`encodeCommonAttributes`), which the codec encrypts like any other. A row
 * the target refuses fails with the server's words, which quote its values ("Duplicate entry
 * 'a@b' for key 'email'"); in clear they would sit in workflow history. Workers with
 * SEAOTTER_CODEC_KEY load this module as their failure converter (activities) and run the
 * workflow bundle built with it (workflows: scripts/bundle-workflows.ts). Decoding needs nothing
 * of it: every client reads encoded attributes back through its codec. CommonJS (.cts): the SDK
 * loads it with require(), which takes ES modules only from Node 20.19 on.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
