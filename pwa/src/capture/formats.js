// What MediaRecorder records in. Plain JavaScript so that the browser tests can load it as it
// is, without a build.
//
// MP4 first: Chromium's MP4 has its duration and index in the file, so the recording plays
// and seeks from the first byte when it is served by range. Its WebM has neither (the
// duration reads as Infinity and the seek bar is useless), so WebM is only the fallback for
// browsers that cannot record MP4. Bitrates are explicit because the browsers' defaults
// (several Mbit/s) would make a three-minute lesson too large for a metered connection:
// 800 kbit/s of 640×360 video with 64 kbit/s of sound is about 19 MB for three minutes.

const VIDEO = [
  'video/mp4;codecs=avc1,opus',
  'video/mp4;codecs=avc1,mp4a.40.2',
  'video/mp4',
  'video/webm;codecs=vp9,opus',
  'video/webm;codecs=vp8,opus',
  'video/webm',
];

const AUDIO = ['audio/mp4;codecs=opus', 'audio/mp4', 'audio/webm;codecs=opus', 'audio/webm'];

export const VIDEO_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 25 } };

/**
 * The MediaRecorder options for recording `kind`, or null when this browser can record none
 * of the formats we take.
 *
 * @param {'video' | 'audio'} kind
 * @param {(type: string) => boolean} [supported]
 * @returns {MediaRecorderOptions | null}
 */
export function recorderOptions(kind, supported = (type) => MediaRecorder.isTypeSupported(type)) {
  const mimeType = (kind === 'video' ? VIDEO : AUDIO).find(supported);
  if (!mimeType) return null;
  return kind === 'video'
    ? { mimeType, videoBitsPerSecond: 800_000, audioBitsPerSecond: 64_000 }
    : { mimeType, audioBitsPerSecond: 48_000 };
}
