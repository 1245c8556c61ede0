import { model, Schema, type Types } from 'mongoose';

export const PLANS = ['FREE', 'PLUS'] as const;
export const ROLES = ['USER', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

export interface UserDocument {
  _id: Types.ObjectId;
  /** Unique, so people and the admin CLI can name a user instead of quoting an id. */
  name: string;
  plan: (typeof PLANS)[number];
  role: Role;
  createdAt: Date;
}

const userSchema = new Schema<UserDocument>(
  {
    name: { type: String, required: true, trim: true, unique: true },
    plan: { type: String, enum: PLANS, required: true, default: 'FREE' },
    role: { type: String, enum: ROLES, required: true, default: 'USER' },
  },
  { timestamps: { createdAt: true, updatedAt: false } },
);

export const UserModel = model<UserDocument>('User', userSchema);
