// ioredis 6.1's declarations import 'redis-errors', which ships no types: under
// skipLibCheck: false a user needs this line (or @types for it). Not our package's doing.
declare module 'redis-errors';
