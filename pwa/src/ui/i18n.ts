// The words of the app, in Simplified Chinese (the default) and English. Every string the
// person reads comes from here; client-core's error codes are translated here too.
import { signal } from './signal';

export type Language = 'zh' | 'en';

const zh = {
  app: '田间',
  tagline: '党员活动记录',
  signIn: '登录',
  inviteCode: '邀请码',
  inviteHint: '扫描或输入支部书记给您的邀请码',
  phone: '手机号',
  password: '密码',
  withCode: '用邀请码',
  withPassword: '用手机号和密码',
  signInAgain: '请重新登录，之前记录的内容都还在本机。',
  home: '首页',
  recordLecture: '记录党课',
  myRecords: '我的记录',
  nothingYet: '还没有记录',
  thisMonth: '本月一课一片一实践',
  feed: '支部展播',
  title: '标题',
  category: '类别',
  venue: '地点类型',
  heldAt: '时间',
  durationMin: '时长（分钟）',
  place: '地点',
  gps: '定位',
  locate: '获取定位',
  located: (m: number) => `已定位（精度约 ${Math.round(m)} 米）`,
  noLocation: '无法定位',
  speaker: '主讲人',
  myself: '我自己',
  guestSpeaker: '外请主讲人（土专家）',
  attendance: '到会党员',
  audience: '群众人数',
  summary: '内容摘要',
  media: '照片、录音、视频',
  addPhoto: '添加照片',
  addAudio: '添加录音',
  addVideo: '添加视频',
  saveDraft: '保存草稿',
  submit: '提交审核',
  saved: '已保存在本机',
  notSaved: '没有保存：',
  back: '返回',
  edit: '修改',
  state: {
    draft: '草稿',
    pending: '待审核',
    approved: '已通过',
    returned: '已退回',
  } as Record<string, string>,
  categories: {
    political_theory: '政治理论',
    grassroots_work: '基层业务',
    skills: '技能提升',
    other: '其他',
  } as Record<string, string>,
  venues: {
    field: '田间课堂',
    courtyard: '屋场会',
    market: '集市微讲台',
    activity_room: '党员活动室',
    home_delivery: '上门送课',
    remote: '远程微党课',
  } as Record<string, string>,
  link: {
    offline: '离线',
    connecting: '正在连接',
    online: '在线',
    sign_in: '需要重新登录',
    refused: '服务器拒绝了一条修改',
  } as Record<string, string>,
  synced: '已同步',
  waiting: (records: number, files: number, size: string) => `${records} 条记录、${files} 个文件（${size}）等待上传`,
  uploading: (percent: number) => `正在上传 ${percent}%`,
  settings: '设置',
  largeText: '大字模式',
  videoOnWifi: '视频只在 Wi-Fi 下上传',
  language: 'English',
  errors: {
    denied: '您没有权限这样做',
    not_open: '本机还没有这份文档，请先联网同步',
    bad_input: '填写的内容有误',
    too_many_attempts: '尝试次数太多，请稍后再试',
    bad_credentials: '手机号或密码不对',
    invite_invalid: '邀请码无效或已用过',
    offline: '没有网络，请到有信号的地方再试',
  } as Record<string, string>,
};

const en: typeof zh = {
  app: 'Tianjian',
  tagline: 'Party branch records',
  signIn: 'Sign in',
  inviteCode: 'Invite code',
  inviteHint: 'Scan or type the invite code your branch secretary gave you',
  phone: 'Phone number',
  password: 'Password',
  withCode: 'With an invite code',
  withPassword: 'With phone and password',
  signInAgain: 'Please sign in again. Everything you recorded is still on this phone.',
  home: 'Home',
  recordLecture: 'Record a lecture',
  myRecords: 'My records',
  nothingYet: 'Nothing recorded yet',
  thisMonth: "This month's lecture, film and practice",
  feed: 'Branch feed',
  title: 'Title',
  category: 'Category',
  venue: 'Venue',
  heldAt: 'Held at',
  durationMin: 'Duration (minutes)',
  place: 'Place',
  gps: 'Location',
  locate: 'Get location',
  located: (m: number) => `Located (within about ${Math.round(m)} m)`,
  noLocation: 'No location',
  speaker: 'Speaker',
  myself: 'Myself',
  guestSpeaker: 'Guest speaker',
  attendance: 'Members present',
  audience: 'Villagers present',
  summary: 'Summary',
  media: 'Photos, audio, video',
  addPhoto: 'Add photo',
  addAudio: 'Add audio',
  addVideo: 'Add video',
  saveDraft: 'Save draft',
  submit: 'Submit for review',
  saved: 'Saved on this phone',
  notSaved: 'Not saved: ',
  back: 'Back',
  edit: 'Edit',
  state: { draft: 'Draft', pending: 'Waiting for review', approved: 'Approved', returned: 'Returned' },
  categories: {
    political_theory: 'Political theory',
    grassroots_work: 'Grassroots work',
    skills: 'Skills',
    other: 'Other',
  },
  venues: {
    field: 'In the fields',
    courtyard: 'Courtyard meeting',
    market: 'Market stall',
    activity_room: 'Activity room',
    home_delivery: 'At home',
    remote: 'Recorded remotely',
  },
  link: {
    offline: 'Offline',
    connecting: 'Connecting',
    online: 'Online',
    sign_in: 'Sign in again',
    refused: 'The server refused a change',
  },
  synced: 'Synced',
  waiting: (records: number, files: number, size: string) => `${records} records and ${files} files (${size}) waiting`,
  uploading: (percent: number) => `Uploading ${percent}%`,
  settings: 'Settings',
  largeText: 'Large text',
  videoOnWifi: 'Upload video only on Wi-Fi',
  language: '中文',
  errors: {
    denied: 'You may not do that',
    not_open: 'This phone does not have that yet: sync first',
    bad_input: 'Something in the form is wrong',
    too_many_attempts: 'Too many attempts; try again later',
    bad_credentials: 'Wrong phone number or password',
    invite_invalid: 'The invite code is not valid or was used',
    offline: 'No connection: try again where there is signal',
  },
};

export const language = signal<Language>((localStorage.getItem('language') as Language | null) ?? 'zh');

export function setLanguage(next: Language): void {
  localStorage.setItem('language', next);
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
  language.set(next);
}

export function t(): typeof zh {
  return language.get() === 'en' ? en : zh;
}

/** A readable message for an error from client-core (`code: detail`) or the server. */
export function explain(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const code = ('code' in (error as object) ? (error as { code: string }).code : text.split(':')[0]).trim();
  return t().errors[code] ?? (code.startsWith('invalid') ? `${t().errors.bad_input}（${text}）` : text);
}
