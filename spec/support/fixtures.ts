/** Declarative configs the specs start Kong with; credentials are test values. */
export const ALICE_SECRET = 'alice-test-secret-0123456789abcdef';
export const CAROL_SECRET = 'carol-test-secret-0123456789abcdef';

export const ISSUER_KONG_YML = `
_format_version: "3.0"
services:
  - name: token-service
    url: http://127.0.0.1:9
    plugins:
      - name: request-termination
        config: { status_code: 503, message: token service unavailable }
    routes:
      - name: tokens
        paths: [/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { issuer: https://issuer.test, audience: [api-a], unique_name_prefix: "corp#" }
      - name: multi-audience
        paths: [/multi/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { ttl_seconds: 60, audience: [api-a, api-b], key_claim_name: kid_key }
      - name: no-auth-plugin
        paths: [/open/tokens]
        plugins:
          - name: token-issuer
      - name: headers-trusted
        paths: [/trusting/tokens]
        plugins:
          - name: token-issuer
            config: { verify_consumer: false }
      - name: no-provisioning
        paths: [/strict/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { provision_credentials: false }
      - name: anonymous-allowed
        paths: [/anon/tokens]
        plugins:
          - name: key-auth
            config: { anonymous: anonymous }
          - name: token-issuer
      - name: rate-limited
        paths: [/limited/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { rate_limit_per_minute: 2 }
      - name: kong-request-id
        paths: [/kong-id/tokens]
        plugins:
          - name: key-auth
          - name: token-issuer
            config: { request_id_source: kong }
consumers:
  - username: alice
    keyauth_credentials: [{ key: alice-key }]
    jwt_secrets: [{ key: alice-jwt-key, secret: ${ALICE_SECRET} }]
  - username: bob
    keyauth_credentials: [{ key: bob-key }]
  - custom_id: carol-custom
    keyauth_credentials: [{ key: carol-key }]
    jwt_secrets: [{ key: carol-jwt-key, secret: ${CAROL_SECRET} }]
  - username: anonymous
`;
