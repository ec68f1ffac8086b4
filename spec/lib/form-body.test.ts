import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFormRequest, MAX_FORM_BYTES, parseForm, readForm } from '../../lib/access/form-body.js';
import { oauthErrorAnswer } from '../../lib/access/oauth-error.js';
import { AuthError } from '../../lib/errors.js';
import type { Kong } from '../../lib/kong/plugin.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const params = (text: string | Uint8Array) => Object.fromEntries(parseForm(typeof text === 'string' ? bytes(text) : text));

function refusal(run: () => unknown): Record<string, unknown> {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof AuthError, String(err));
    assert.equal(err.code, 'AUTH_015');
    return { detail: err.detail, ...err.extensions };
  }
  assert.fail('expected AUTH_015');
}

/** The one PDK call readForm makes, answering `body`; counts the calls. */
function kongWithBody(body: unknown): { kong: Kong; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const kong = {
    request: {
      getRawBody: (...args: unknown[]) => {
        calls.push(args);
        return Promise.resolve(body);
      },
    },
  } as unknown as Kong;
  return { kong, calls };
}

const formHeaders = (length: number, extra: Record<string, string[]> = {}) => ({
  'content-type': ['application/x-www-form-urlencoded'],
  'content-length': [String(length)],
  ...extra,
});

describe('form bodies (application/x-www-form-urlencoded)', () => {
  test('pairs decode + as a space and %XX as UTF-8 bytes; empty pairs are skipped; a name alone has an empty value', () => {
    assert.deepEqual(params('grant_type=client_credentials&scope=orders.read+orders.write'), {
      grant_type: 'client_credentials',
      scope: 'orders.read orders.write',
    });
    assert.deepEqual(params('a=%C3%A9%2B%26&&b&c='), { a: 'é+&', b: '', c: '' });
    assert.deepEqual(params('%61=1'), { a: '1' });
    assert.deepEqual(params(''), {});
  });

  test('a parameter sent twice is refused (RFC 6749 §3.1), also when spelt differently', () => {
    assert.equal(refusal(() => params('scope=a&scope=b')).reason, 'duplicate_parameter');
    assert.equal(refusal(() => params('scope=a&%73cope=a')).reason, 'duplicate_parameter');
  });

  test('a stray %, percent-encoded bytes that are not UTF-8 and raw bytes that are not UTF-8 are refused', () => {
    for (const body of ['a=%', 'a=%4', 'a=%zz', 'a=%FF', 'a=%C0%AF', 'a=%ED%A0%80', '%=1']) {
      assert.equal(refusal(() => params(body)).reason, 'encoding', body);
    }
    assert.equal(refusal(() => params(Uint8Array.from([0x61, 0x3d, 0xff]))).reason, 'encoding');
  });

  test('fuzz: any bytes either parse into single-valued parameters or are refused with AUTH_015, never anything else', () => {
    let seed = 0x2545f491;
    const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const alphabet = bytes('ab=&%+2F0C3A9fz\u00e9');
    for (let i = 0; i < 5000; i++) {
      const body = Uint8Array.from({ length: next() % 40 }, () =>
        next() % 8 === 0 ? next() : (alphabet[next() % alphabet.length] as number),
      );
      try {
        const parsed = parseForm(body);
        for (const [name, value] of parsed) assert.equal(typeof name + typeof value, 'stringstring');
      } catch (err) {
        assert.ok(err instanceof AuthError && err.code === 'AUTH_015', `${Buffer.from(body).toString('hex')}: ${String(err)}`);
      }
    }
  });

  test('isFormRequest reads the Content-Type only', () => {
    assert.equal(isFormRequest({ 'content-type': ['Application/X-WWW-Form-Urlencoded; charset=UTF-8'] }), true);
    assert.equal(isFormRequest({ 'content-type': ['application/json'] }), false);
    assert.equal(isFormRequest({}), false);
  });

  test('readForm asks Kong for the body once, capped at the limit, and parses it', async () => {
    const { kong, calls } = kongWithBody(bytes('token=abc'));
    const form = await readForm(kong, formHeaders(9, { 'content-type': ['application/x-www-form-urlencoded; charset=utf-8'] }));
    assert.deepEqual(Object.fromEntries(form), { token: 'abc' });
    assert.deepEqual(calls, [[MAX_FORM_BYTES]]);
  });

  test('readForm refuses, without reading the body, what Kong could not hand over whole', async () => {
    const cases: Array<[Record<string, string[]>, string]> = [
      [formHeaders(MAX_FORM_BYTES + 1), 'too_large'],
      [formHeaders(99999999999), 'length'],
      [{ 'content-type': ['application/x-www-form-urlencoded'] }, 'length'],
      [formHeaders(10, { 'transfer-encoding': ['chunked'] }), 'length'],
      [formHeaders(10, { 'content-length': ['10', '10'] }), 'malformed_body'],
      [formHeaders(10, { 'content-type': ['application/json'] }), 'content_type'],
      [formHeaders(10, { 'content-type': ['application/x-www-form-urlencoded; charset=latin1'] }), 'content_type'],
      [{ 'content-length': ['10'] }, 'content_type'],
    ];
    for (const [headers, reason] of cases) {
      const { kong, calls } = kongWithBody(bytes('a=1'));
      await assert.rejects(readForm(kong, headers), (err: unknown) => err instanceof AuthError && err.extensions?.reason === reason);
      assert.equal(calls.length, 0, reason);
    }
  });

  test('a body that is not bytes is refused', async () => {
    const { kong } = kongWithBody(null);
    await assert.rejects(readForm(kong, formHeaders(3)), (err: unknown) => err instanceof AuthError && err.code === 'AUTH_015');
  });
});

describe('OAuth error answers (RFC 6749 §5.2)', () => {
  test('client errors are 400 with exactly error and error_description; our code in X-Auth-Error-Code', () => {
    const answer = oauthErrorAnswer(new AuthError('AUTH_014', 'no such scope'), 'req-1');
    assert.equal(answer.status, 400);
    assert.equal(answer.body, '{"error":"invalid_scope","error_description":"no such scope"}');
    assert.equal(answer.headers['X-Auth-Error-Code'], 'AUTH_014');
    assert.equal(answer.headers['Cache-Control'], 'no-store');
    assert.equal(answer.headers.Pragma, 'no-cache');
    assert.equal(answer.headers['Content-Type'], 'application/json');
    assert.equal(answer.headers['WWW-Authenticate'], undefined);
  });

  test('an unauthenticated client is 401 invalid_client with a challenge; a dependency outage keeps 503 and Retry-After', () => {
    const client = oauthErrorAnswer(new AuthError('AUTH_009'), 'r');
    assert.deepEqual(
      [client.status, JSON.parse(client.body).error, client.headers['WWW-Authenticate']],
      [401, 'invalid_client', 'Basic realm="kong"'],
    );
    const outage = oauthErrorAnswer(new AuthError('AUTH_004', undefined, { retryAfterSeconds: 5 }), 'r');
    assert.deepEqual([outage.status, JSON.parse(outage.body).error, outage.headers['Retry-After']], [503, 'temporarily_unavailable', '5']);
    assert.equal(JSON.parse(oauthErrorAnswer(new AuthError('AUTH_008'), 'r').body).error, 'server_error');
    assert.equal(oauthErrorAnswer(new AuthError('AUTH_016'), 'r').status, 400);
  });
});
