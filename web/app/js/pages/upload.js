// Sending a file's bytes to the node with XMLHttpRequest (fetch gives no
// upload progress) and the session's CSRF token: an attachment
// (uploadFile), the books of a sheet (postFile), and the streamed import
// of a cash journal (import.js's sendSheet, which reads its answer as it
// arrives and so opens its request with openUpload).
import { csrf, hooks, ApiError, query } from '../api.js';

// openUpload opens a POST of raw bytes to path, calling onProgress(percent)
// as the body goes out; the caller adds its listeners and sends.
export function openUpload(path, onProgress = () => {}) {
  const xhr = new XMLHttpRequest();
  xhr.open('POST', path);
  xhr.setRequestHeader('Content-Type', 'application/octet-stream');
  xhr.setRequestHeader('Accept', 'application/json');
  xhr.setRequestHeader('X-CSRF-Token', csrf());
  xhr.upload.addEventListener('progress', (e) => {
    if (e.lengthComputable && e.total > 0) onProgress(Math.round((e.loaded / e.total) * 100));
  });
  return xhr;
}

// refusal is the ApiError of xhr's answer that is not a success, with the
// node's reason; a 401 sends the person back to sign in.
export function refusal(xhr) {
  let body = null;
  try { body = JSON.parse(xhr.responseText); } catch { body = null; }
  const err = new ApiError(xhr.status, body, xhr.getResponseHeader('Retry-After'));
  if (xhr.status === 401) hooks.unauthorized(err);
  return err;
}

// postFile sends file to path and resolves to the node's JSON answer, or
// rejects with an ApiError carrying the node's reason.
export function postFile(path, file, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = openUpload(path, onProgress);
    xhr.addEventListener('load', () => {
      if (xhr.status < 200 || xhr.status >= 300) return reject(refusal(xhr));
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (!body) return reject(new ApiError(xhr.status, { message: 'the node answered no JSON' }));
      onProgress(100);
      resolve(body);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, { message: 'network error' })));
    xhr.send(file);
  });
}

// uploadFile sends one file to POST /v1/attachments and resolves to the
// stored Attachment.
export async function uploadFile(file, onProgress = () => {}) {
  const path = '/v1/attachments' + query({ fileName: file.name, contentType: file.type || 'application/octet-stream' });
  const body = await postFile(path, file, onProgress);
  if (!body.attachment) throw new ApiError(500, { message: 'the node answered no attachment' });
  return body.attachment;
}
