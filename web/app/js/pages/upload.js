// uploadFile sends one file to POST /v1/attachments with XMLHttpRequest
// (fetch gives no upload progress) and the session's CSRF token; it calls
// onProgress(percent) as the body goes out and resolves to the stored
// Attachment, or rejects with an ApiError carrying the node's reason.
import { csrf, hooks, ApiError, query } from '../api.js';

export function uploadFile(file, onProgress = () => {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/attachments' + query({ fileName: file.name, contentType: file.type || 'application/octet-stream' }));
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('X-CSRF-Token', csrf());
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(Math.round((e.loaded / e.total) * 100));
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300 && body && body.attachment) {
        onProgress(100);
        resolve(body.attachment);
        return;
      }
      const err = new ApiError(xhr.status, body);
      if (xhr.status === 401) hooks.unauthorized(err);
      reject(err);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, { message: 'network error' })));
    xhr.send(file);
  });
}
