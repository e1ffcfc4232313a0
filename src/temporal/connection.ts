import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';

/**
 * How the worker and the API reach Temporal: plain on a private network, an API key (Temporal
 * Cloud), or mutual TLS (Temporal Cloud or a self-hosted cluster). One function, so both processes
 * authenticate alike. Certificate files are read at start-up: a wrong path fails before any traffic.
 */
export interface TemporalConnectionOptions {
  address: string;
  apiKey?: string;
  tls?:
    | boolean
    | {
        clientCertPair: { crt: Buffer; key: Buffer };
        serverRootCACertificate?: Buffer;
        serverNameOverride?: string;
      };
}

export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const address = config.temporal.address ?? 'localhost:7233';
  if (config.temporal.apiKey) return { address, apiKey: config.temporal.apiKey, tls: true };
  const tls = config.temporal.tls;
  if (!tls) return { address };
  const read = (path: string, variable: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(
        `${variable} points at ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code}).`,
      );
    }
  };
  return {
    address,
    tls: {
      clientCertPair: {
        crt: read(tls.certPath, 'TEMPORAL_TLS_CERT_PATH'),
        key: read(tls.keyPath, 'TEMPORAL_TLS_KEY_PATH'),
      },
      ...(tls.caPath ? { serverRootCACertificate: read(tls.caPath, 'TEMPORAL_TLS_CA_PATH') } : {}),
      ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    },
  };
}
