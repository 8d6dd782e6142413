// No Docker engine runs here, so docker/ is checked by reading it: the compose file hands the
// service its secrets as Docker secrets, never environment variables; the image build fetches
// nothing but npm packages and Debian packages; the secrets stay out of the build context.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const docker = path.join(__dirname, '..', '..', 'docker');
const read = (file: string) => readFileSync(path.join(docker, file), 'utf8');

interface Compose {
  services: Record<string, { environment?: Record<string, string>; secrets?: string[] }>;
  secrets?: Record<string, { file: string }>;
}

describe('docker/compose.yaml', () => {
  const compose = parse(read('compose.yaml')) as Compose;
  const kms = compose.services.kms!;

  it('puts no secret in an environment variable: the root credentials and the PIN are Docker secrets', () => {
    const environment = kms.environment ?? {};
    const secretLooking = Object.keys(environment).filter((name) => /(SECRET|PIN|PASSWORD|CREDENTIALS)/.test(name));
    expect(secretLooking.length).toBeGreaterThan(0);
    for (const name of secretLooking) {
      // Either a file the secret is mounted at, or a flag.
      expect({ name, value: environment[name] }).toEqual({ name, value: expect.stringMatching(/^(\/run\/secrets\/[a-z_]+|1)$/) });
    }
    expect(environment).not.toHaveProperty('KMS_PIN');
    expect(environment).not.toHaveProperty('KMS_ROOT_SECRET_ACCESS_KEY');
    expect(environment).toMatchObject({ KMS_PIN_FILE: '/run/secrets/kms_token_pin', KMS_ROOT_CREDENTIALS_FILE: '/run/secrets/kms_root_credentials' });
  });

  it('declares every secret the service mounts, from files make-secrets.sh writes', () => {
    expect(kms.secrets).toEqual(['kms_root_credentials', 'kms_token_pin']);
    expect(compose.secrets).toEqual({
      kms_root_credentials: { file: './secrets/root-credentials.json' },
      kms_token_pin: { file: './secrets/token-pin' },
    });
    const script = read('make-secrets.sh');
    expect(script).toContain('root-credentials.json');
    expect(script).toContain('token-pin');
  });
});

describe('docker/Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('builds the native addons against the image\'s own Node headers, downloading nothing but npm and Debian packages', () => {
    expect(dockerfile).toMatch(/npm_config_nodedir=\/usr\/local/);
    expect(dockerfile).toMatch(/npm_config_build_from_source=true/);
    expect(dockerfile).not.toMatch(/\b(curl|wget|git clone|ADD https?:)/);
    // Every RUN that installs uses apt-get or npm.
    const installs = dockerfile.split('\n').filter((line) => /\binstall\b/.test(line) && !line.trim().startsWith('#'));
    for (const line of installs) expect(line).toMatch(/apt-get|npm/);
  });

  it('keeps the secrets and the data directory out of the build context', () => {
    const ignored = read('Dockerfile.dockerignore').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['docker/secrets', 'data', 'node_modules']));
  });
});
