/**
 * The payload codec (DESIGN.md): every Temporal payload a seaotter worker or client sends is
 * compressed, then encrypted with AES-256-GCM under SEAOTTER_CODEC_KEY, so workflow history holds
 * no pipeline specs, positions or errors in clear text. The same codec runs in the Web UI's codec
 * server (codec-server.ts).
 *
 * An encoded payload: metadata `encoding: binary/seaotter-encrypted`, `seaotter-key-id: <id>`;
 * data `iv (12 bytes) | ciphertext | tag (16 bytes)`. The plaintext is one flag byte (0 stored,
 * 1 deflate-raw) and the original payload serialised as protobuf, metadata included; the flag sits
 * inside the ciphertext so the tag authenticates it too.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { UserError } from './errors.js';

export const ENCRYPTED_ENCODING = 'binary/seaotter-encrypted';
export const KEY_ID_METADATA = 'seaotter-key-id';
export const KEY_ENV = 'SEAOTTER_CODEC_KEY';
export const OLD_KEYS_ENV = 'SEAOTTER_CODEC_OLD_KEYS';
/** On a worker with a key: `1` takes payloads that are not encrypted too (histories from before the key). */
const ACCEPT_PLAIN_ENV = 'SEAOTTER_CODEC_ACCEPT_PLAIN';

const PayloadMessage = proto.temporal.api.common.v1.Payload;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const STORED = 0;
const DEFLATED = 1;

/** An AES-256 key and its id: the first 8 hex digits of its SHA-256, safe to show and store. */
export interface CodecKey {
  id: string;
  key: Buffer;
}

/** Parses a base64 key of exactly 32 bytes; `source` names where it came from in the error. */
export function parseKey(text: string, source: string): CodecKey {
  const t = text.trim();
  const isBase64 = /^[A-Za-z0-9+/]*={0,2}$/.test(t) && t.length % 4 === 0;
  const key = Buffer.from(t, 'base64');
  if (!isBase64 || key.length !== 32) {
    const got = isBase64 ? `${key.length} bytes` : 'text that is not base64';
    throw new UserError(`${source} must be the base64 of exactly 32 bytes (make one with "openssl rand -base64 32"); it holds ${got}`);
  }
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key };
}

/** Encrypts with one key; decrypts with it or with any older key (rotation). */
export class SeaotterCodec implements PayloadCodec {
  private readonly keys = new Map<string, CodecKey>();

  /**
   * `acceptPlain: false` (workers): a payload that is not encrypted is refused, so that no one
   * without the key starts a workflow, submits a batch, or sets an activity's heartbeat details
   * that a worker then acts on. Clients and the codec server read such payloads as they are.
   */
  constructor(
    private readonly current: CodecKey,
    old: CodecKey[] = [],
    readonly acceptPlain = true,
  ) {
    for (const k of [current, ...old]) this.keys.set(k.id, k);
  }

  /** Ids of the keys accepted for decoding, the current one first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encodeOne(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decodeOne(p));
  }

  private encodeOne(payload: Payload): Payload {
    const serialised = PayloadMessage.encode(payload).finish();
    const deflated = deflateRawSync(serialised, { level: 1 });
    const [flag, body] = deflated.length < serialised.length ? [DEFLATED, deflated] : [STORED, serialised];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    const sealed = Buffer.concat([cipher.update(Buffer.from([flag])), cipher.update(body), cipher.final()]);
    return {
      metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.current.id) },
      data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
    };
  }

  /**
   * Signs `text` (a pipeline spec, lib/spec-trust.ts): `<key id>:<HMAC-SHA256, base64>` under a key
   * derived from the current one, so whoever can start workflows but lacks the key cannot make a
   * spec that workers run.
   */
  sign(text: string): string {
    return `${this.current.id}:${signatureOf(this.current, text)}`;
  }

  /** Why `signature` is not this codec's for `text` (any key it holds), or undefined when it is. */
  signatureProblem(text: string, signature: string | undefined): string | undefined {
    if (!signature) return 'it is not signed';
    const colon = signature.indexOf(':');
    const id = colon < 0 ? signature : signature.slice(0, colon);
    const mac = colon < 0 ? '' : signature.slice(colon + 1);
    const k = this.keys.get(id);
    if (!k) return `it is signed with key id ${id}, and this worker holds ${this.keyIds.join(', ')}`;
    const want = Buffer.from(signatureOf(k, text));
    const got = Buffer.from(mac);
    return want.length === got.length && timingSafeEqual(want, got) ? undefined : 'its signature does not match it: it was changed after it was applied';
  }

  /** Payloads not encrypted by this codec pass unchanged (unless refused, see the constructor), so older plain histories stay readable. */
  private decodeOne(payload: Payload): Payload {
    const encoding = text(payload.metadata?.encoding);
    if (encoding !== ENCRYPTED_ENCODING) {
      if (this.acceptPlain) return payload;
      throw new Error(
        `a payload that is not encrypted (${encoding ?? 'no encoding'}) reached a worker with ${KEY_ENV}, which takes only payloads encrypted ` +
          `with a key it holds, so that no one without the key can start or steer a pipeline; ${ACCEPT_PLAIN_ENV}=1 lets it read histories written before the key was set`,
      );
    }
    const id = text(payload.metadata?.[KEY_ID_METADATA]);
    if (!id) throw new Error(`an encrypted payload has no ${KEY_ID_METADATA}`);
    const k = this.keys.get(id);
    if (!k) {
      throw new Error(`cannot decrypt a payload encrypted with key id ${id}: the keys given (${KEY_ENV}, ${OLD_KEYS_ENV}) have ids ${this.keyIds.join(', ')}`);
    }
    const data = Buffer.from(payload.data ?? []);
    if (data.length < IV_BYTES + 1 + TAG_BYTES) throw new Error(`an encrypted payload (key id ${id}) is too short: ${data.length} bytes`);
    const decipher = createDecipheriv('aes-256-gcm', k.key, data.subarray(0, IV_BYTES));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new Error(`an encrypted payload (key id ${id}) failed authentication: it was altered or is corrupt`);
    }
    const body = plain.subarray(1);
    if (plain[0] !== STORED && plain[0] !== DEFLATED) throw new Error(`an encrypted payload (key id ${id}) has an unknown format flag ${plain[0]}`);
    const decoded = PayloadMessage.decode(plain[0] === DEFLATED ? inflateRawSync(body) : body);
    return { metadata: decoded.metadata, data: decoded.data };
  }
}

/**
 * The codec from SEAOTTER_CODEC_KEY (and SEAOTTER_CODEC_OLD_KEYS, comma-separated, for decoding
 * only), or undefined when no key is set: then payloads travel as plain JSON. `refusePlain`
 * (workers) refuses payloads that are not encrypted, unless SEAOTTER_CODEC_ACCEPT_PLAIN=1.
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env, opts: { refusePlain?: boolean } = {}): SeaotterCodec | undefined {
  const current = env[KEY_ENV]?.trim();
  const old = (env[OLD_KEYS_ENV] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!current) {
    if (old.length) throw new UserError(`${OLD_KEYS_ENV} is set but ${KEY_ENV} is not: old keys only add to a current key`);
    return undefined;
  }
  const acceptPlain = env[ACCEPT_PLAIN_ENV]?.trim() ?? '';
  if (!['', '0', '1'].includes(acceptPlain)) throw new UserError(`${ACCEPT_PLAIN_ENV} must be 1 or 0, not "${acceptPlain}"`);
  const refuse = opts.refusePlain === true && acceptPlain !== '1';
  return new SeaotterCodec(parseKey(current, KEY_ENV), old.map((k, i) => parseKey(k, `${OLD_KEYS_ENV} (key ${i + 1})`)), !refuse);
}

/** `dataConverter` for `new Client(…)` and `Worker.create(…)`: the codec, if a key is set. */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): { payloadCodecs: PayloadCodec[] } {
  const codec = codecFromEnv(env);
  return { payloadCodecs: codec ? [codec] : [] };
}

/** HMAC-SHA256 of `text` under a key derived from `k` for signing only (never the encryption key itself). */
function signatureOf(k: CodecKey, text: string): string {
  const signing = createHmac('sha256', k.key).update('seaotter pipeline spec signature v1').digest();
  return createHmac('sha256', signing).update(text).digest('base64');
}

function utf8(s: string): Uint8Array {
  return Buffer.from(s, 'utf8');
}

function text(b: Uint8Array | null | undefined): string | undefined {
  return b ? Buffer.from(b).toString('utf8') : undefined;
}
