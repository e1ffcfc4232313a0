import OpenAI, { toFile } from 'openai';
import { audioExtension, baseMime } from './limits.js';

/** Audio to text through the OpenAI transcription endpoint (`client.audio.transcriptions.create`). */
export type Transcriber = (audio: { bytes: Buffer; mimeType: string }) => Promise<string>;

export function openaiTranscriber(client: OpenAI, model: string): Transcriber {
  return async ({ bytes, mimeType }) => {
    // The endpoint identifies the format by the file name's extension and the content type.
    const file = await toFile(bytes, `audio.${audioExtension(mimeType)}`, { type: baseMime(mimeType) });
    const result = await client.audio.transcriptions.create({ file, model });
    return result.text;
  };
}

/** Whether retrying a failed transcription can help (the model step's own rule: 408, 409, 429, 5xx, connection). */
export function transcriptionRetryable(err: unknown): boolean {
  if (err instanceof OpenAI.APIConnectionError) return true;
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    return status === 408 || status === 409 || status === 429 || status >= 500;
  }
  return false;
}
