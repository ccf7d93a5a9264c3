/** The fake environment every config fixture is loaded with. Values are deliberately secret-looking. */
export const FIXTURE_ENV: Readonly<Record<string, string>> = {
  AMQP_URL: 'amqp://guest:hunter2-secret@broker.example.com/',
  APP_WEBHOOK_SECRET: 'app-webhook-fixture-secret',
  GITHUB_TOKEN: 'ghp_fixturetoken123',
  GITLAB_TOKEN: 'glpat-fixturetoken',
  QE_SECRET: 'qe-fixture-secret',
  SFTP_KEY: '-----BEGIN OPENSSH PRIVATE KEY-----\nfixture\n-----END OPENSSH PRIVATE KEY-----',
  ARTIFACTS_TOKEN: 'artifacts-fixture-token',
  SECRET_TIMEOUT: 'sekrit-timeout-value',
  SECRET_URL: 'ftp://user:pa55word@hidden.example.com/',
};

/** Every value above, to assert none of them reaches an error message. */
export const FIXTURE_SECRETS: readonly string[] = Object.values(FIXTURE_ENV);
