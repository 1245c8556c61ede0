import { isValidObjectId, Types } from 'mongoose';
import { ConflictError, InvalidInputError, isDuplicateKeyError, NotFoundError } from '../errors.js';
import { API_KEY_PATTERN, displayPrefix, generateApiKey, hashApiKey } from './api-key-format.js';
import type { AccessChangeListener } from './access-changes.js';
import { ApiKeyModel, type ApiKeyDocument } from './api-key.js';
import { PLANS, ROLES, UserModel, type Role, type UserDocument } from './user.js';

export type Plan = (typeof PLANS)[number];

export interface User {
  id: string;
  name: string;
  plan: Plan;
  role: Role;
  createdAt: Date;
}

export interface ApiKey {
  id: string;
  userId: string;
  label: string;
  /** The first characters of the key, for telling keys apart; not enough to use it. */
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** A freshly made key: the only moment the secret exists outside its owner's hands. */
export interface IssuedApiKey {
  key: string;
  apiKey: ApiKey;
}

export const DEV_USER_NAME = 'dev';
const DEV_KEY_LABEL = 'npm start';

const toUser = (doc: UserDocument): User => ({
  id: doc._id.toHexString(),
  name: doc.name,
  plan: doc.plan,
  role: doc.role,
  createdAt: doc.createdAt,
});

const toApiKey = (doc: ApiKeyDocument): ApiKey => ({
  id: doc._id.toHexString(),
  userId: doc.userId.toHexString(),
  label: doc.label,
  prefix: doc.prefix,
  createdAt: doc.createdAt,
  revokedAt: doc.revokedAt ?? null,
});

/** Users and their API keys. The GraphQL resolvers and the admin CLI both go through here. */
export class Accounts {
  /** `onAccessChange` hears of every revoked key and changed user (the server ends their sockets). */
  constructor(private readonly onAccessChange: AccessChangeListener = () => {}) {}

  async createUser(input: { name: string; plan?: Plan; role?: Role }): Promise<{ user: User } & IssuedApiKey> {
    const name = input.name.trim();
    if (!name) throw new InvalidInputError('A user needs a name.');
    const plan = this.checkPlan(input.plan ?? 'FREE');
    const role = this.checkRole(input.role ?? 'USER');
    let doc;
    try {
      doc = await UserModel.create({ name, plan, role });
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new ConflictError(`A user named "${name}" already exists.`);
      throw error;
    }
    const user = toUser(doc);
    return { user, ...(await this.createApiKey(user.id, 'default')) };
  }

  /** Finds a user by id or by name. */
  async findUser(ref: string): Promise<User | undefined> {
    const doc = isValidObjectId(ref)
      ? await UserModel.findById(ref).lean<UserDocument>()
      : await UserModel.findOne({ name: ref.trim() }).lean<UserDocument>();
    return doc ? toUser(doc) : undefined;
  }

  async getUser(ref: string): Promise<User> {
    const user = await this.findUser(ref);
    if (!user) throw new NotFoundError(`No user "${ref}".`);
    return user;
  }

  async listUsers(): Promise<User[]> {
    const docs = await UserModel.find().sort({ createdAt: 1, _id: 1 }).lean<UserDocument[]>();
    return docs.map(toUser);
  }

  async setPlan(userRef: string, plan: Plan): Promise<User> {
    const user = await this.updateUser(userRef, { plan: this.checkPlan(plan) });
    this.onAccessChange({ kind: 'USER_CHANGED', userId: user.id, change: 'plan' });
    return user;
  }

  async setRole(userRef: string, role: Role): Promise<User> {
    const user = await this.updateUser(userRef, { role: this.checkRole(role) });
    this.onAccessChange({ kind: 'USER_CHANGED', userId: user.id, change: 'role' });
    return user;
  }

  async createApiKey(userRef: string, label: string): Promise<IssuedApiKey> {
    const user = await this.getUser(userRef);
    return this.storeKey(user.id, label, generateApiKey());
  }

  async listApiKeys(userId: string): Promise<ApiKey[]> {
    const docs = await ApiKeyModel.find({ userId: new Types.ObjectId(userId) })
      .sort({ createdAt: 1, _id: 1 })
      .lean<ApiKeyDocument[]>();
    return docs.map(toApiKey);
  }

  /**
   * Revokes a key named by its id, its display prefix or the whole key (handy when one leaks).
   * With `ownerId`, only that user's keys can be named.
   */
  async revokeApiKey(ref: string, ownerId?: string): Promise<ApiKey> {
    const filter: Record<string, unknown> = API_KEY_PATTERN.test(ref)
      ? { hash: hashApiKey(ref) }
      : isValidObjectId(ref)
        ? { _id: new Types.ObjectId(ref) }
        : { prefix: ref, revokedAt: null };
    if (ownerId) filter.userId = new Types.ObjectId(ownerId);
    const matches = await ApiKeyModel.find(filter).limit(2).lean<ApiKeyDocument[]>();
    if (matches.length === 0) throw new NotFoundError(`No API key "${displayPrefix(ref)}".`);
    if (matches.length > 1) throw new InvalidInputError(`"${ref}" names several keys; use the key's id.`);
    const [key] = matches;
    if (key.revokedAt) return toApiKey(key);
    const revoked = await ApiKeyModel.findOneAndUpdate(
      { _id: key._id },
      { $set: { revokedAt: new Date() } },
      { returnDocument: 'after' },
    ).lean<ApiKeyDocument>();
    this.onAccessChange({ kind: 'KEY_REVOKED', userId: key.userId.toHexString(), keyHash: key.hash });
    return toApiKey(revoked ?? key);
  }

  /**
   * The keys among `keyHashes` that still open the API, each with its user as stored now (two
   * queries, whatever the count): a revoked key, or one whose user is gone, is absent.
   */
  async currentAccess(keyHashes: readonly string[]): Promise<Map<string, User>> {
    if (keyHashes.length === 0) return new Map();
    const keys = await ApiKeyModel.find({ hash: { $in: [...keyHashes] }, revokedAt: null }).lean<ApiKeyDocument[]>();
    const users = await UserModel.find({ _id: { $in: keys.map((key) => key.userId) } }).lean<UserDocument[]>();
    const byId = new Map(users.map((user) => [user._id.toHexString(), toUser(user)]));
    return new Map(keys.flatMap((key) => (byId.has(key.userId.toHexString()) ? [[key.hash, byId.get(key.userId.toHexString())!]] : [])));
  }

  /** The user a key belongs to, or undefined for an unknown or revoked key. */
  async authenticate(key: string): Promise<User | undefined> {
    if (!API_KEY_PATTERN.test(key)) return undefined;
    const apiKey = await ApiKeyModel.findOne({ hash: hashApiKey(key), revokedAt: null }).lean<ApiKeyDocument>();
    if (!apiKey) return undefined;
    const user = await UserModel.findById(apiKey.userId).lean<UserDocument>();
    return user ? toUser(user) : undefined;
  }

  /**
   * Development: makes sure the admin user "dev" exists and returns a key for it. With a fixed
   * key (DEV_API_KEY) that key is registered; without one a new key replaces the last start's,
   * since a stored hash cannot be turned back into the key to print it again.
   */
  async ensureDevUser(fixedKey?: string): Promise<{ user: User; key: string }> {
    const doc =
      (await UserModel.findOne({ name: DEV_USER_NAME }).lean<UserDocument>()) ??
      (await UserModel.create({ name: DEV_USER_NAME, plan: 'FREE', role: 'ADMIN' })).toObject();
    const user = toUser(doc);
    if (fixedKey) {
      const existing = await ApiKeyModel.findOne({ hash: hashApiKey(fixedKey) }).lean<ApiKeyDocument>();
      if (existing && existing.userId.toHexString() !== user.id) {
        throw new ConflictError('DEV_API_KEY is already the key of another user; pick another.');
      }
      if (existing) {
        await ApiKeyModel.updateOne({ _id: existing._id }, { $set: { revokedAt: null } });
      } else {
        await this.storeKey(user.id, DEV_KEY_LABEL, fixedKey);
      }
      return { user, key: fixedKey };
    }
    await ApiKeyModel.updateMany(
      { userId: doc._id, label: DEV_KEY_LABEL, revokedAt: null },
      { $set: { revokedAt: new Date() } },
    );
    const { key } = await this.storeKey(user.id, DEV_KEY_LABEL, generateApiKey());
    return { user, key };
  }

  private async storeKey(userId: string, label: string, key: string): Promise<IssuedApiKey> {
    const trimmed = label.trim();
    if (!trimmed) throw new InvalidInputError('An API key needs a label, e.g. "laptop".');
    const doc = await ApiKeyModel.create({
      userId: new Types.ObjectId(userId),
      label: trimmed,
      hash: hashApiKey(key),
      prefix: displayPrefix(key),
    });
    return { key, apiKey: toApiKey(doc) };
  }

  private async updateUser(userRef: string, changes: Partial<Pick<User, 'plan' | 'role'>>): Promise<User> {
    const user = await this.getUser(userRef);
    const doc = await UserModel.findOneAndUpdate(
      { _id: new Types.ObjectId(user.id) },
      { $set: changes },
      { returnDocument: 'after' },
    ).lean<UserDocument>();
    if (!doc) throw new NotFoundError(`No user "${userRef}".`);
    return toUser(doc);
  }

  private checkPlan(plan: string): Plan {
    if (!(PLANS as readonly string[]).includes(plan)) {
      throw new InvalidInputError(`Unknown plan "${plan}"; choose one of ${PLANS.join(', ')}.`);
    }
    return plan as Plan;
  }

  private checkRole(role: string): Role {
    if (!(ROLES as readonly string[]).includes(role)) {
      throw new InvalidInputError(`Unknown role "${role}"; choose one of ${ROLES.join(', ')}.`);
    }
    return role as Role;
  }
}
