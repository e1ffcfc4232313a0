/**
 * Where media bytes live: Postgres by default (postgresStore.ts). A small interface so that an
 * S3-compatible store can take its place: put and get by (tenant, channel, media id), nothing else.
 * A tenant reads only its own media: the tenant is part of every key.
 */

export interface MediaKey {
  tenant: string;
  channel: string;
  /** The channel's media id (WhatsApp: the Graph API media id). */
  mediaId: string;
}

export interface StoredMedia {
  mimeType: string;
  byteSize: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  filename: string | null;
  /** A voice note's or audio file's transcription, once made. */
  transcript: string | null;
}

export interface MediaStore {
  /** Idempotent: a second put of the same key keeps the first bytes. */
  put(
    key: MediaKey,
    media: Omit<StoredMedia, 'byteSize'> & { bytes: Buffer; conversationId: string },
  ): Promise<void>;
  /** The facts without the bytes (cheap). */
  head(key: MediaKey): Promise<StoredMedia | null>;
  get(key: MediaKey): Promise<(StoredMedia & { bytes: Buffer }) | null>;
  setTranscript(key: MediaKey, transcript: string): Promise<void>;
}

/** A store in memory: the contract in a few lines, for unit tests. */
export class MemoryMediaStore implements MediaStore {
  private readonly items = new Map<string, StoredMedia & { bytes: Buffer }>();

  private id(key: MediaKey): string {
    return JSON.stringify([key.tenant, key.channel, key.mediaId]);
  }

  async put(
    key: MediaKey,
    media: Omit<StoredMedia, 'byteSize'> & { bytes: Buffer; conversationId: string },
  ): Promise<void> {
    if (this.items.has(this.id(key))) return;
    this.items.set(this.id(key), {
      mimeType: media.mimeType,
      byteSize: media.bytes.length,
      sha256: media.sha256,
      filename: media.filename,
      transcript: media.transcript,
      bytes: media.bytes,
    });
  }

  async head(key: MediaKey): Promise<StoredMedia | null> {
    const m = this.items.get(this.id(key));
    if (!m) return null;
    const { bytes: _bytes, ...facts } = m;
    return facts;
  }

  async get(key: MediaKey): Promise<(StoredMedia & { bytes: Buffer }) | null> {
    return this.items.get(this.id(key)) ?? null;
  }

  async setTranscript(key: MediaKey, transcript: string): Promise<void> {
    const m = this.items.get(this.id(key));
    if (m) m.transcript = transcript;
  }
}
