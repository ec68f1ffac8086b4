/** What signing and verifying need from a consumer's credential. */
export interface SigningCredential {
  consumerId: string;
  key: string;
  secret: string;
  /** Kong's credential id, when the copy came from the Admin API (Redis copies do not keep it). */
  credentialId?: string;
}
