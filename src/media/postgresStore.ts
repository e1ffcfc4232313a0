import type { Pool } from '../store/pool.js';
import type { MediaKey, MediaStore, StoredMedia } from './store.js';

/** Media in the `media_objects` table (migration 0012): bytes as bytea, keyed by tenant. */
export function createPostgresMediaStore(pool: Pool): MediaStore {
  const facts = 'mime_type, byte_size, sha256, filename, transcript';
  const where = 'tenant = $1 AND channel = $2 AND media_id = $3';
  const args = (k: MediaKey) => [k.tenant, k.channel, k.mediaId];
  type Row = {
    mime_type: string;
    byte_size: number;
    sha256: string;
    filename: string | null;
    transcript: string | null;
  };
  const toFacts = (r: Row): StoredMedia => ({
    mimeType: r.mime_type,
    byteSize: r.byte_size,
    sha256: r.sha256,
    filename: r.filename,
    transcript: r.transcript,
  });
  return {
    async put(key, media) {
      await pool.query(
        `INSERT INTO media_objects (tenant, channel, media_id, conversation_id, mime_type, byte_size, sha256, filename,
           transcript, bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant, channel, media_id) DO NOTHING`,
        [
          ...args(key),
          media.conversationId,
          media.mimeType,
          media.bytes.length,
          media.sha256,
          media.filename,
          media.transcript,
          media.bytes,
        ],
      );
    },
    async head(key) {
      const { rows } = await pool.query<Row>(`SELECT ${facts} FROM media_objects WHERE ${where}`, args(key));
      return rows[0] ? toFacts(rows[0]) : null;
    },
    async get(key) {
      const { rows } = await pool.query<Row & { bytes: Buffer }>(
        `SELECT ${facts}, bytes FROM media_objects WHERE ${where}`,
        args(key),
      );
      return rows[0] ? { ...toFacts(rows[0]), bytes: rows[0].bytes } : null;
    },
    async setTranscript(key, transcript) {
      await pool.query(`UPDATE media_objects SET transcript = $4 WHERE ${where}`, [...args(key), transcript]);
    },
  };
}
