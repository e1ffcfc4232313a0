import { createHash } from 'node:crypto';
import { ApiError, invalidRequest, missingParameter, unknownParameter } from './errors.js';

/**
 * `POST /v1/audio/transcriptions` (the spec's CreateTranscriptionRequest, multipart/form-data).
 * The emulator cannot hear: an audio file holding the marker `threadline-transcript:` is
 * "transcribed" as the text after it (to the end of that line), any other audio as
 * `(audio: <n> bytes, sha256:<12 hex>)`. Errors follow the live API: a missing file or model, a
 * format it does not take (identified by the file name's extension), an empty file, a
 * response_format the model does not offer.
 */

export const TRANSCRIPTION_MODELS = [
  'whisper-1',
  'gpt-transcribe',
  'gpt-4o-transcribe',
  'gpt-4o-mini-transcribe',
  'gpt-4o-mini-transcribe-2025-12-15',
  'gpt-4o-transcribe-diarize',
];
const FORMATS = ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm'];
const RESPONSE_FORMATS = ['json', 'text', 'srt', 'verbose_json', 'vtt', 'diarized_json'];
const KNOWN_FIELDS = new Set([
  'file',
  'model',
  'language',
  'languages',
  'keywords',
  'prompt',
  'response_format',
  'temperature',
  'include',
  'include[]',
  'timestamp_granularities',
  'timestamp_granularities[]',
  'stream',
  'chunking_strategy',
  'known_speaker_names',
  'known_speaker_names[]',
  'known_speaker_references',
  'known_speaker_references[]',
]);
export const TRANSCRIPT_MARKER = 'threadline-transcript:';

export interface TranscriptionResult {
  contentType: string;
  body: string;
}

export async function transcribe(raw: Buffer, contentType: string | undefined): Promise<TranscriptionResult> {
  if (!contentType?.toLowerCase().startsWith('multipart/form-data'))
    throw invalidRequest(
      "Invalid Content-Type header (expected multipart/form-data), e.g. 'multipart/form-data; boundary=...'.",
    );
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
  } catch {
    throw invalidRequest('Could not parse multipart form');
  }
  for (const key of form.keys()) if (!KNOWN_FIELDS.has(key)) throw unknownParameter(key);
  const file = form.get('file');
  if (file === null) throw missingParameter('file');
  if (typeof file === 'string')
    throw invalidRequest(
      "Invalid type for 'file': expected a file, but got a string instead.",
      'file',
      'invalid_type',
    );
  const model = form.get('model');
  if (model === null || model === '') throw missingParameter('model');
  if (typeof model !== 'string' || !TRANSCRIPTION_MODELS.includes(model))
    throw new ApiError(
      404,
      `The model \`${String(model)}\` does not exist or you do not have access to it.`,
      'invalid_request_error',
      null,
      'model_not_found',
    );
  const extension = (file.name.split('.').at(-1) ?? '').toLowerCase();
  if (!file.name.includes('.') || !FORMATS.includes(extension))
    throw invalidRequest(
      `Invalid file format. Supported formats: [${FORMATS.map((f) => `'${f}'`).join(', ')}]`,
    );
  const bytes = Buffer.from(await file.arrayBuffer());
  if (bytes.length === 0)
    throw invalidRequest('Audio file might be corrupted or unsupported', 'file', 'invalid_value');
  const format = (form.get('response_format') as string | null) ?? 'json';
  if (!RESPONSE_FORMATS.includes(format))
    throw invalidRequest(
      `Invalid value: '${format}'. Supported values are: ${RESPONSE_FORMATS.map((f) => `'${f}'`).join(', ')}.`,
      'response_format',
      'invalid_value',
    );
  const whisper = model === 'whisper-1';
  if (!whisper && format !== 'json' && format !== 'text')
    throw invalidRequest(
      `response_format '${format}' is not compatible with model '${model}'. Use 'json' or 'text' instead.`,
      'response_format',
      'unsupported_value',
    );
  const text = heard(bytes);
  if (format === 'text') return { contentType: 'text/plain; charset=utf-8', body: `${text}\n` };
  const outputTokens = Math.max(1, Math.ceil(text.length / 4));
  const audioTokens = Math.max(1, Math.ceil(bytes.length / 1000));
  const usage = whisper
    ? { type: 'duration', seconds: Math.max(1, Math.round(bytes.length / 4000)) }
    : {
        type: 'tokens',
        input_tokens: audioTokens,
        input_token_details: { text_tokens: 0, audio_tokens: audioTokens },
        output_tokens: outputTokens,
        total_tokens: audioTokens + outputTokens,
      };
  return { contentType: 'application/json', body: JSON.stringify({ text, usage }) };
}

function heard(bytes: Buffer): string {
  const raw = bytes.toString('utf8');
  const at = raw.indexOf(TRANSCRIPT_MARKER);
  if (at >= 0)
    return raw
      .slice(at + TRANSCRIPT_MARKER.length)
      .split(/[\n\0]/)[0]!
      .trim();
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  return `(audio: ${bytes.length} bytes, sha256:${sha})`;
}
