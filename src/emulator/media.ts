import { createHash } from 'node:crypto';
import { invalidRequest, invalidType, invalidValue, missingParameter } from './errors.js';

/**
 * `input_image` and `input_file` content parts (the spec's InputImageContent and InputFileContent),
 * validated as the live API does and turned into text the scripted model "sees": the MIME type,
 * byte count and SHA-256 prefix of an image; a file's name, size and a phrase of its text. Tests
 * parse these descriptions (docs/emulator.md), so the formats are a contract:
 * `[input_image image/png 68 bytes sha256:0123456789ab]`,
 * `[input_file menu.pdf application/pdf 812 bytes text:"Risotto 18 EUR"]`.
 */

const IMAGE_DETAIL = ['low', 'high', 'auto', 'original'] as const;
const FILE_DETAIL = ['low', 'high', 'auto'] as const;
const IMAGE_MIME = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
const EXAMPLE_DATA_URL = 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU=';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function describeMediaPart(part: Record<string, unknown>, param: string): string {
  return part.type === 'input_image' ? describeImage(part, param) : describeFile(part, param);
}

function optionalString(part: Record<string, unknown>, key: string, param: string): string | undefined {
  const v = part[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidType(`${param}.${key}`, 'a string', v);
  return v;
}

function describeImage(part: Record<string, unknown>, param: string): string {
  if (part.detail === undefined) throw missingParameter(`${param}.detail`);
  if (typeof part.detail !== 'string' || !(IMAGE_DETAIL as readonly string[]).includes(part.detail))
    throw invalidValue(`${param}.detail`, part.detail, IMAGE_DETAIL);
  const url = optionalString(part, 'image_url', param);
  const fileId = optionalString(part, 'file_id', param);
  if (url === undefined && fileId === undefined)
    throw invalidRequest(
      `Invalid '${param}': one of 'image_url' or 'file_id' must be provided.`,
      param,
      'missing_required_parameter',
    );
  if (url === undefined) return `[input_image file_id:${fileId}]`;
  return describeImageUrl(url, `${param}.image_url`);
}

function describeImageUrl(url: string, urlParam: string): string {
  if (/^https?:\/\//i.test(url)) return `[input_image url:${url.slice(0, 200)}]`;
  const data = parseDataUrl(url);
  if (!data)
    throw invalidRequest(
      `Invalid '${urlParam}'. Expected a valid URL, but got a value with an invalid format.`,
      urlParam,
      'invalid_value',
    );
  if (!IMAGE_MIME.includes(data.mime))
    throw invalidRequest(
      `Invalid '${urlParam}'. Expected a base64-encoded data URL with an image MIME type (e.g. '${EXAMPLE_DATA_URL}'), but got unsupported MIME type '${data.mime}'.`,
      urlParam,
      'invalid_value',
    );
  if (data.bytes.length === 0)
    throw invalidRequest(
      `Invalid '${urlParam}'. Expected a base64-encoded data URL with an image MIME type (e.g. '${EXAMPLE_DATA_URL}'), but got empty base64-encoded bytes.`,
      urlParam,
      'invalid_value',
    );
  return `[input_image ${data.mime} ${data.bytes.length} bytes sha256:${sha(data.bytes)}]`;
}

function describeFile(part: Record<string, unknown>, param: string): string {
  if (part.detail !== undefined && !(FILE_DETAIL as readonly string[]).includes(part.detail as string))
    throw invalidValue(`${param}.detail`, part.detail, FILE_DETAIL);
  const fileData = optionalString(part, 'file_data', param);
  const fileId = optionalString(part, 'file_id', param);
  const fileUrl = optionalString(part, 'file_url', param);
  const filename = optionalString(part, 'filename', param);
  if (fileData === undefined && fileId === undefined && fileUrl === undefined)
    throw invalidRequest(
      `Invalid '${param}': one of 'file_id', 'file_data' or 'file_url' must be provided.`,
      param,
      'missing_required_parameter',
    );
  if (fileData === undefined)
    return `[input_file ${fileId ? `file_id:${fileId}` : `url:${fileUrl!.slice(0, 200)}`}]`;
  if (filename === undefined) throw missingParameter(`${param}.filename`);
  const data = parseDataUrl(fileData);
  if (!data)
    throw invalidRequest(
      `Invalid '${param}.file_data'. Expected a base64-encoded data URL (e.g. 'data:application/pdf;base64,...').`,
      `${param}.file_data`,
      'invalid_value',
    );
  const phrase = textPhrase(data.mime, data.bytes);
  return `[input_file ${filename} ${data.mime} ${data.bytes.length} bytes${phrase ? ` text:"${phrase}"` : ''}]`;
}

function parseDataUrl(url: string): { mime: string; bytes: Buffer } | null {
  const match = /^data:([\w.+-]+\/[\w.+-]+)(?:;[\w=.+-]+)*;base64,([A-Za-z0-9+/=\s]*)$/.exec(url);
  if (!match) return null;
  return { mime: match[1]!.toLowerCase(), bytes: Buffer.from(match[2]!, 'base64') };
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);

/** The first text a reader would see: a PDF's first shown string (`(...) Tj`), a text file's first line. */
function textPhrase(mime: string, bytes: Buffer): string | null {
  const raw = bytes.toString('latin1');
  const found =
    mime === 'application/pdf'
      ? /\(((?:\\.|[^\\)]){1,120})\)\s*Tj/.exec(raw)?.[1]?.replace(/\\(.)/g, '$1')
      : mime.startsWith('text/')
        ? bytes.toString('utf8').split('\n')[0]?.slice(0, 120)
        : undefined;
  return found ? found.replace(/["\r\n]/g, ' ').trim() : null;
}

export const isMediaPart = (part: unknown): part is Record<string, unknown> =>
  isRecord(part) && (part.type === 'input_image' || part.type === 'input_file');

const CHAT_IMAGE_DETAIL = ['auto', 'low', 'high'] as const;
export const CHAT_USER_PART_TYPES = ['text', 'image_url', 'input_audio', 'file'] as const;

/**
 * Chat Completions' media parts (ChatCompletionRequestMessageContentPartImage and ...PartFile),
 * validated as the live API does and described like the Responses parts, so a reply shows the same
 * `[input_image ...]` / `[input_file ...]` whichever API carried the media.
 */
export function describeChatMediaPart(part: Record<string, unknown>, param: string): string {
  if (part.type === 'image_url') {
    const image = part.image_url;
    if (image === undefined) throw missingParameter(`${param}.image_url`);
    if (!isRecord(image)) throw invalidType(`${param}.image_url`, 'an object', image);
    if (image.url === undefined) throw missingParameter(`${param}.image_url.url`);
    if (typeof image.url !== 'string') throw invalidType(`${param}.image_url.url`, 'a string', image.url);
    const detail = image.detail ?? 'auto';
    if (typeof detail !== 'string' || !(CHAT_IMAGE_DETAIL as readonly string[]).includes(detail))
      throw invalidValue(`${param}.image_url.detail`, detail, CHAT_IMAGE_DETAIL);
    return describeImageUrl(image.url, `${param}.image_url.url`);
  }
  const file = part.file;
  if (file === undefined) throw missingParameter(`${param}.file`);
  if (!isRecord(file)) throw invalidType(`${param}.file`, 'an object', file);
  const fileData = optionalString(file, 'file_data', `${param}.file`);
  const fileId = optionalString(file, 'file_id', `${param}.file`);
  const filename = optionalString(file, 'filename', `${param}.file`);
  if (fileData === undefined && fileId === undefined)
    throw invalidRequest(
      `Missing required parameter: '${param}.file'. One of 'file_id' or 'file_data' must be provided.`,
      `${param}.file`,
      'missing_required_parameter',
    );
  if (fileData === undefined) return `[input_file file_id:${fileId}]`;
  const data = parseDataUrl(fileData);
  if (!data)
    throw invalidRequest(
      `Invalid '${param}.file.file_data'. Expected a base64-encoded data URL with a MIME type (e.g. 'data:application/pdf;base64,SGVsbG8sIFdvcmxkIQ=='), but got a value without the 'data:' prefix.`,
      `${param}.file.file_data`,
      'invalid_value',
    );
  if (filename === undefined) throw missingParameter(`${param}.file.filename`);
  const phrase = textPhrase(data.mime, data.bytes);
  return `[input_file ${filename} ${data.mime} ${data.bytes.length} bytes${phrase ? ` text:"${phrase}"` : ''}]`;
}
